fn main() -> std::process::ExitCode {
    kcore::run_main("kcluster", || kcluster::run(kcore::parse_cli("kcluster")))
}
