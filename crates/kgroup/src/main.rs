fn main() -> std::process::ExitCode {
    kcore::run_main("kgroup", || kgroup::run(kcore::parse_cli("kgroup")))
}
