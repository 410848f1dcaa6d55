//! Writing to the terminal.

/// Print `line` and a newline to stdout. A closed pipe (`| head`) ends
/// the program quietly, as it does for other Unix tools, instead of
/// panicking as `println!` would.
pub(crate) fn print_line(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}
