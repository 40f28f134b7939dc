//! The `jwtkit` binary: argument parsing lives in the library so it can be tested.

fn main() -> std::process::ExitCode {
    jwtkit_cli::main()
}
