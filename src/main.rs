fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(gild::cli::main())
}
