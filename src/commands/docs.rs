//! `jwtctl completions SHELL` and `jwtctl man --dir DIR`: shell completions and man pages, made
//! from the same clap definition as the help (clap_complete, clap_mangen).

use clap::CommandFactory;

use super::Done;
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, Result, io_words};

pub fn completions(args: &CompletionsArgs) -> Result<Done> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "jwtctl", &mut out);
    String::from_utf8(out)
        .map(Done::Print)
        .map_err(|_| Error::usage("the completion script is not UTF-8"))
}

/// One page per command: `jwtctl.1`, then `jwtctl-issue.1` and so on, nested commands too
/// (`jwtctl-key-gen.1`).
pub fn man(args: &ManArgs) -> Result<Done> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = 0;
    write_pages(&cmd, "jwtctl", &args.dir, &mut written)?;
    crate::sys::eprint_line(&format!(
        "jwtctl: wrote {written} man pages in {}",
        args.dir.display()
    ));
    Ok(Done::Print(String::new()))
}

fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &std::path::Path,
    written: &mut usize,
) -> Result<()> {
    // clap names are 'static; a one-shot command can leak the few page names it makes.
    let page = cmd
        .clone()
        .name(&*Box::leak(name.to_string().into_boxed_str()));
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| Error::io(format!("cannot render the man page: {}", io_words(&e))))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).map_err(|e| {
        Error::io(format!(
            "cannot write {}: {}; give an existing directory with --dir",
            path.display(),
            io_words(&e)
        ))
    })?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
