fn main() -> std::process::ExitCode {
    kcore::run_main("kprod", || kprod::run(kcore::parse_cli("kprod")))
}
