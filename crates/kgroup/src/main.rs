fn main() -> std::process::ExitCode {
    kcore::tool_main("kgroup", kgroup::run)
}
