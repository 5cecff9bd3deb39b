fn main() -> std::process::ExitCode {
    kcore::tool_main("kcluster", kcluster::run)
}
