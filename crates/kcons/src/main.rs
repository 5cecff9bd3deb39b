fn main() -> std::process::ExitCode {
    kcore::run_main("kcons", || kcons::run(kcore::parse_cli("kcons")))
}
