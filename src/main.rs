//! The `contagion` command: a thin client of the library. It parses arguments, calls the
//! library, writes results, and maps errors to exit codes (0 success, 1 runtime failure,
//! 2 bad input or usage).

mod cli;

fn main() {
    std::process::exit(cli::main());
}
