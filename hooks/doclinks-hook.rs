//! `doclinks-hook`: the doclinks command for pre-commit hooks installed from this
//! repository (the root package of Cargo.toml says why it exists); the command
//! line is `doclinks::cli`, the same as the `doclinks` binary's.
fn main() -> std::process::ExitCode {
    doclinks::cli::main()
}
