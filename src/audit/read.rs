//! Reading a log back: its files opened for reading, line by line.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Open one log file for reading, buffered.
pub(crate) fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    Ok(Box::new(BufReader::with_capacity(
        1 << 16,
        File::open(path)?,
    )))
}
