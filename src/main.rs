fn main() -> std::process::ExitCode {
    docusign_collector::cli::main()
}
