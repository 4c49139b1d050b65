//! The `multilock` binary; the command line is `multilock::cli`.
fn main() -> std::process::ExitCode {
    multilock::cli::main()
}
