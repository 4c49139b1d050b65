//! The `storage-approval` binary; the command line is `storage_approval::cli`.
fn main() -> std::process::ExitCode {
    storage_approval::cli::main()
}
