fn main() -> std::process::ExitCode {
    kcore::run_main("ktopic", || ktopic::run(kcore::parse_cli("ktopic")))
}
