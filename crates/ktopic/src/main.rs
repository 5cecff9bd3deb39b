fn main() -> std::process::ExitCode {
    kcore::tool_main("ktopic", ktopic::run)
}
