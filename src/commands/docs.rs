//! `jwtctl completions SHELL` and `jwtctl man --dir DIR`: shell completions and man pages, made
//! from the same clap definition as the help (clap_complete, clap_mangen).

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

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

/// One man page: clap_mangen's sections, but a SYNOPSIS that names each option's value (`--ttl
/// DURATION`) and, from the long help's closing text, FILES, EXAMPLES laid out one per line, and
/// EXIT STATUS as sections of their own (clap_mangen puts it all under EXTRA, rewrapped).
fn render_page(page: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    use roff::{Roff, bold, italic, roman};
    let man = clap_mangen::Man::new(page.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    let mut synopsis = Roff::new();
    synopsis.control("SH", ["SYNOPSIS"]);
    let mut line = vec![bold(page.get_name().replace('-', " "))];
    for arg in page.get_arguments().filter(|a| !a.is_hide_set()) {
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map(|v| v.to_string());
        let takes = arg.get_num_args().is_some_and(|n| n.takes_values())
            && !matches!(
                arg.get_action(),
                clap::ArgAction::SetTrue | clap::ArgAction::SetFalse | clap::ArgAction::Help
            );
        line.push(roman(" ["));
        match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => line.push(bold(format!("--{long}"))),
            (None, Some(short)) => line.push(bold(format!("-{short}"))),
            (None, None) => {
                line.push(italic(
                    value.clone().unwrap_or_else(|| arg.get_id().to_string()),
                ));
                line.push(roman("]"));
                continue;
            }
        }
        if let (true, Some(value)) = (takes, value) {
            line.push(roman(" "));
            line.push(italic(value));
        }
        line.push(roman("]"));
    }
    if page.has_subcommands() {
        line.push(roman(" "));
        line.push(italic("COMMAND"));
    }
    synopsis.text(line);
    synopsis.to_writer(out)?;
    man.render_description_section(out)?;
    if page.get_arguments().next().is_some() {
        man.render_options_section(out)?;
    }
    if page.has_subcommands() {
        man.render_subcommands_section(out)?;
    }
    if let Some(after) = page.get_after_long_help() {
        let mut extra = Roff::new();
        let text = after.to_string();
        let mut section = String::new();
        for raw in text.lines() {
            let heading = match raw.trim_end_matches(':') {
                "EXAMPLES" => Some("EXAMPLES"),
                "EXIT STATUS" => Some("EXIT STATUS"),
                _ => None,
            };
            if let Some(heading) = heading {
                section = heading.to_owned();
                extra.control("SH", [heading]);
                continue;
            }
            if section.is_empty() && !raw.trim().is_empty() {
                section = "FILES".into();
                extra.control("SH", ["FILES"]);
            }
            if raw.trim().is_empty() {
                continue;
            }
            if section == "EXAMPLES" || section == "EXIT STATUS" {
                // One example (or exit code) per line, as written: no filling.
                extra.control("nf", [] as [&str; 0]);
                extra.text([roman(raw.trim())]);
                extra.control("fi", [] as [&str; 0]);
            } else {
                let text = raw.trim();
                extra.text([roman(text.strip_prefix("Files: ").unwrap_or(text))]);
            }
        }
        extra.to_writer(out)?;
    }
    if page.get_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

fn write_pages(cmd: &clap::Command, name: &str, dir: &Path, written: &mut usize) -> Result<()> {
    // clap names are 'static; a one-shot command can leak the few page names it makes.
    let page = cmd
        .clone()
        .name(&*Box::leak(name.to_string().into_boxed_str()));
    let mut out = Vec::new();
    render_page(&page, &mut out)
        .map_err(|e| Error::io(format!("cannot render the man page: {}", io_words(&e))))?;
    let path = dir.join(format!("{name}.1"));
    install(dir, &format!("{name}.1"), &out).map_err(|e| {
        Error::io(format!(
            "cannot write {}: {}; give an existing directory you can write with --dir",
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

/// Put `bytes` at `dir/name`, mode 0644 (man pages are for every user), replacing what is there.
///
/// Invariant: `man --dir` creates or replaces its own files only. The page is written to a new
/// file created exclusively and without following links (`O_EXCL | O_NOFOLLOW`) in `dir`, then
/// renamed over `name`: a symbolic link planted at `name` is replaced, never followed, so its
/// target is never written.
fn install(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(crate::sys::OPEN_NOFOLLOW)
        .open(&temp)?;
    // The umask (077, see sys::restrict_umask) applies to `mode`: set it on the descriptor.
    let written = file
        .set_permissions(fs::Permissions::from_mode(0o644))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| fs::rename(&temp, dir.join(name)));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}
