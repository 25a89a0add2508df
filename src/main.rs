fn main() -> std::process::ExitCode {
    docusign_collector::app::main()
}
