//! The one-command demo runs the seed's walkthrough end to end, non-interactively.

use kpipes_e2e::*;

#[test]
fn demo_runs_the_whole_walkthrough() {
    needs_cluster!();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = bin_path("kcluster").parent().unwrap().to_path_buf();
    let cluster = unique_name("demo");
    let mut cmd = assert_cmd::Command::new(root.join("scripts/demo"));
    cmd.arg("--down")
        .env("KPIPES_DEMO_CLUSTER", &cluster)
        .env("KPIPES_DEMO_BIN", &bin_dir)
        .env_remove("KAFKA_BROKERS")
        .timeout(std::time::Duration::from_secs(400));
    let ran = run(&mut cmd).success();
    let out = ran.stdout();
    for expected in [
        "$ ktopic create my-topic -p 2 -r 3",
        "\"replicas\":[",
        // The consumer's lines, in either order: the two records may land on different
        // partitions, and Kafka orders records only within a partition.
        "\nhello\n",
        "\nthis is producer\n",
        "$ kcluster kill",
        "still flowing",
        "$ kcluster start",
        "$ ktopic elect my-topic --table",
        "$ kcluster down",
    ] {
        assert!(
            out.contains(expected),
            "demo output lacks {expected:?}:\n{out}\n--- stderr:\n{}",
            ran.stderr()
        );
    }
    // The demo's cluster is gone: nothing of it keeps running.
    run(kcluster(&cluster).arg("status")).code_is(6);
}
