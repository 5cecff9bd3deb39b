fn main() -> std::process::ExitCode {
    kcore::tool_main("kcons", kcons::run)
}
