//! The `doclinks` binary; the command line is `doclinks::cli`.
fn main() -> std::process::ExitCode {
    doclinks::cli::main()
}
