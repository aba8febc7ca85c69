//! The root-key passphrase: from the env var or file named by the policy's
//! `ca.root_passphrase`, else an echo-free prompt on the terminal. Never argv.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use zeroize::Zeroizing;

use crate::policy::model::SecretRef;
use crate::policy::secret::SecretError;

/// Minimum passphrase length accepted when a new root key is encrypted.
pub const MIN_LEN: usize = 12;

/// Reads the passphrase. `confirm` (when creating a key) asks twice on a prompt, and refuses a
/// passphrase shorter than [`MIN_LEN`] from any source.
pub fn read(source: &SecretRef, base_dir: &Path, confirm: bool) -> Result<Zeroizing<Vec<u8>>> {
    let v = read_any(source, base_dir, confirm)?;
    if confirm && v.len() < MIN_LEN {
        bail!("the root-key passphrase is shorter than {MIN_LEN} characters: use a longer one (a new root key is encrypted with it)");
    }
    Ok(v)
}

fn read_any(source: &SecretRef, base_dir: &Path, confirm: bool) -> Result<Zeroizing<Vec<u8>>> {
    // One secret reader for every command (policy::secret): env or file, file-mode checked.
    // Only an unset variable on a terminal falls back to the prompt.
    if source.env.is_some() || source.file.is_some() {
        match crate::policy::secret::resolve_bytes(source, base_dir, "ca.root_passphrase") {
            Ok(v) => return Ok(v),
            Err(SecretError::EnvUnset { var, .. }) if !std::io::stdin().is_terminal() => {
                let line = source.env.as_ref().map(|e| e.span.line).unwrap_or_default();
                bail!("the root key is encrypted and {var} is not set (ca.root_passphrase.env, policy line {line}): export it, or run on a terminal to be prompted");
            }
            Err(SecretError::EnvUnset { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let first = prompt("Root key passphrase: ")?;
    if confirm {
        if first.len() < MIN_LEN {
            bail!("the passphrase is shorter than {MIN_LEN} characters");
        }
        let again = prompt("Repeat the passphrase: ")?;
        if *first != *again {
            bail!("the passphrases do not match");
        }
    }
    Ok(first)
}

/// Prompts on the controlling terminal with echo off.
fn prompt(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| anyhow!("the root key is encrypted and no passphrase source is set or usable, and there is no terminal to ask on: set `ca.root_passphrase` (env or file)"))?;
    let fd = tty.as_raw_fd();
    // SAFETY: plain termios calls on a file descriptor we own for the duration of the call.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    let have_term = unsafe { libc::tcgetattr(fd, &mut term) } == 0;
    let saved = term;
    if have_term {
        term.c_lflag &= !libc::ECHO;
        term.c_lflag |= libc::ECHONL;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    }
    let mut w = &tty;
    let _ = w.write_all(text.as_bytes());
    let _ = w.flush();
    let mut line = Zeroizing::new(String::new());
    let res = std::io::BufReader::new(&tty).read_line(&mut line);
    if have_term {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    res.context("cannot read the passphrase from the terminal")?;
    let trimmed = line.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        bail!("an empty passphrase was entered");
    }
    Ok(Zeroizing::new(trimmed.as_bytes().to_vec()))
}
