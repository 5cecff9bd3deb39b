use clap::Parser;

fn main() -> std::process::ExitCode {
    kcore::run_main("ktopic", || ktopic::run(ktopic::cli::Cli::parse()))
}
