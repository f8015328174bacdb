//! `jwtctl cache list|clear`: the fetched JWK Sets kept on disk.

use super::{Ctx, Done};
use crate::cli::{CacheAction, CacheArgs};
use crate::error::Result;
use crate::keys::remote;

pub fn run(action: &CacheAction, ctx: &Ctx) -> Result<Done> {
    match action {
        CacheAction::List(args) => {
            let rows = remote::list(&dir(args), ctx.now);
            let text: String = rows
                .iter()
                .map(|(url, age, size)| {
                    let url = crate::escape::json_escaped(url);
                    format!("{url}\t{age}\t{size}\n")
                })
                .collect();
            Ok(Done::Print(text))
        }
        CacheAction::Clear(args) => {
            let removed = remote::clear(&dir(args))?;
            crate::sys::eprint_line(&format!("jwtctl: removed {removed} cached sets"));
            Ok(Done::Print(String::new()))
        }
    }
}

fn dir(args: &CacheArgs) -> std::path::PathBuf {
    args.cache_dir
        .clone()
        .unwrap_or_else(remote::default_cache_dir)
}
