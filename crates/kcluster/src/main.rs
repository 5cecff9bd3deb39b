use clap::Parser;

fn main() -> std::process::ExitCode {
    kcore::run_main("kcluster", || kcluster::run(kcluster::cli::Cli::parse()))
}
