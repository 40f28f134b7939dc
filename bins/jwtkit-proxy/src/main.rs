//! The `jwtkit-proxy` binary; all wiring lives in the library.

use clap::Parser;

/// Tokio moves tasks between worker threads, so much of what one request allocates on one
/// thread is freed on another; glibc's malloc then takes the other thread's arena lock (a
/// futex under load), mimalloc hands the block back without one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = jwtkit_proxy::Cli::parse();
    if let Some(path) = &cli.check_config {
        return match jwtkit_proxy::check_config(path) {
            Ok(line) => {
                println!("{line}");
                std::process::ExitCode::SUCCESS
            }
            Err(problems) => {
                for problem in problems {
                    eprintln!("error: {problem}");
                }
                std::process::ExitCode::from(1)
            }
        };
    }
    let runtime = match jwtkit_proxy::server::runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the Tokio runtime: {err}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(jwtkit_proxy::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(1)
        }
    }
}
