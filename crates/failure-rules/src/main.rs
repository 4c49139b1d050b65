//! The `failure-rules` binary; the command line is `failure_rules::cli`.
fn main() -> std::process::ExitCode {
    failure_rules::cli::main()
}
