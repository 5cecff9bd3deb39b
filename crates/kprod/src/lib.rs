//! kprod: stdin to Kafka, with every record's fate accounted for.
//!
//! A run, in order: [`plan`] settles what it will do before any input is read; [`input`]
//! reads stdin on its own thread; [`input_loop`] turns each line into a record
//! ([`record`]), hands it to the producer ([`producer`]) and leaves the rest to the
//! delivery mode, [`plain`] or [`transactional`]; [`reports`] writes the delivery reports
//! and keeps the tally that makes the exit code.
//!
//! - [`cli`]: the command line. [`limits`]: the topic's record size limit. [`status`]:
//!   the progress line. [`wakeup`]: waiting for delivery reports without a timeout.

pub mod cli;
pub mod compression;
pub mod input;
pub mod input_loop;
pub mod limits;
pub mod plain;
pub mod plan;
pub mod producer;
pub mod record;
pub mod reports;
pub mod status;
pub mod transactional;
pub mod wakeup;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use kcore::signals::Interrupt;
use rdkafka::producer::{BaseProducer, Producer};

use cli::Cli;
use input_loop::Inputs;
use plan::Plan;
use producer::Sender;
use reports::DeliveryContext;
use status::Counters;

pub fn run(cli: Cli) -> Result<()> {
    let mut plan = Plan::settle(&cli)?;
    let interrupt = Interrupt::install()?;
    let counters = Arc::new(Counters::default());
    let create = |plan: &Plan| -> Result<BaseProducer<DeliveryContext>> {
        let settings: Vec<(&str, &str)> = (plan.producer_settings.iter())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let context = DeliveryContext::new(
            &plan.rules.topic,
            plan.connection.verbose,
            !cli.quiet,
            Arc::clone(&counters),
        )
        .holding_reports(plan.transactions.is_some());
        let producer: BaseProducer<DeliveryContext> = plan.connection.create(&settings, context)?;
        producer.context().attach_wakeup(producer.client());
        Ok(producer)
    };
    let mut producer = create(&plan)?;
    // Both questions go out at once: the configs' round trip overlaps the metadata's.
    let configs = limits::ask(
        producer.client(),
        &plan.rules.topic,
        plan.connection.timeout,
    );
    let metadata = kcore::metadata::fetch_interruptible(
        producer.client(),
        &plan.connection,
        None,
        &|| producer.poll(Duration::ZERO),
        &interrupt,
    )?;
    let partitions = kcore::metadata::partition_count(&metadata, &plan.rules.topic)?;
    let topic_limit = limits::topic_max_message_bytes(configs);
    if plan.fit_to_topic(partitions, topic_limit)? {
        producer = create(&plan)?;
    }
    let sender = Sender::new(
        producer,
        plan.message_max_bytes,
        plan.codec_named().is_none(),
    );

    let chunks = input::spawn_reader(std::io::stdin(), plan.max_line_bytes());
    // Lines typed at the terminal, or reports printed on it, would be garbled by a line
    // redrawn under them: there progress shows only when asked for.
    let data_on_terminal =
        std::io::stdin().is_terminal() || (!cli.quiet && std::io::stdout().is_terminal());
    let progress = status::start(cli.progress.mode(data_on_terminal), &counters);
    let inputs = Inputs {
        chunks,
        rules: &plan.rules,
        encoder: plan.encoder.as_ref(),
        fixed_partition: plan.fixed_partition,
        on_error: plan.on_error,
        message_max_bytes: plan.message_max_bytes,
        interrupt: &interrupt,
        counters: &counters,
    };
    let outcome = match plan.transactions.take() {
        None => {
            let plain = plain::Plain {
                topic: plan.rules.topic.clone(),
                delivery_timeout: plan.delivery_timeout,
            };
            input_loop::run(inputs, sender, plain)
        }
        Some(settings) => {
            let topic = &plan.rules.topic;
            transactional::Transactional::start(&sender, settings, topic, plan.delivery_timeout)
                .and_then(|mode| input_loop::run(inputs, sender, mode))
        }
    };
    progress.finish(|elapsed| status::summary(&counters, elapsed));
    outcome
}
