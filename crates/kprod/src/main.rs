fn main() -> std::process::ExitCode {
    kcore::tool_main("kprod", kprod::run)
}
