//! The command line: the clap definitions (here), the log options declared once (`log`), from
//! argv to an accepted invocation or a refusal (`parse`), and usage errors (`usage`).
//!
//! Rules for flags: every setting a script sets once has a `JWTCTL_*` variable; key material is
//! never an argument value (only a file path or the *name* of an environment variable); durations
//! read like `90s`, `30m`, `12h`, `7d`, `1h30m`.

mod log;
mod parse;
pub mod usage;

pub use log::{EnvFault, LogOpts, resolve};
pub use parse::{Invocation, Refusal, parse};

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The long help's closing sections (`--help`; `-h` stays short): the default files, examples,
/// then the exit codes every command shares, last.
macro_rules! long_help {
    ($($example:literal),+ $(,)?) => {
        concat!(
            "Files: ./security.log (the log, --log-file) and ./jwtctl.key (the default key, which\n",
            "only issue creates).\n",
            "\nEXAMPLES:\n",
            $("  ", $example, "\n",)+
            "\nEXIT STATUS:\n",
            "  0  success\n",
            "  1  the token was rejected (the reason is on stderr and in the log)\n",
            "  2  usage or configuration error (flags, key, input file, ledger, key set fetch)\n",
            "  3  the security log could not be written; nothing was printed"
        )
    };
}

/// [`long_help!`] for the `log` commands, whose exit 1 means that no record matched.
macro_rules! log_help {
    ($($example:literal),+ $(,)?) => {
        concat!(
            "Reads the log (--log-file, or the FILEs given) and the files rotated from it: jwtctl's\n",
            "NAME.2026-11-26[-09], logrotate's NAME.1, NAME.2.gz and NAME-20261126[.gz], oldest\n",
            "first. TIME is RFC 3339, Unix seconds, a DURATION ago (1h, 7d), today or yesterday (UTC).\n",
            "Files: ./security.log (the log read by default, and written to: --log-file); no key,\n",
            "./jwtctl.key included, is read.\n",
            "\nEXAMPLES:\n",
            $("  ", $example, "\n",)+
            "\nEXIT STATUS:\n",
            "  0  success: records were printed (log tail: also when none matched)\n",
            "  1  log search: no record matched\n",
            "  2  usage or configuration error, or a log file that cannot be read\n",
            "  3  the security log could not be written; nothing was printed"
        )
    };
}

/// Issue, refresh and verify JSON Web Tokens, recording every operation in a security log.
#[derive(Debug, Parser)]
#[command(name = "jwtctl", version, about, max_term_width = 100)]
#[command(after_long_help = long_help!(
    "jwtctl issue --sub alice",
    "jwtctl verify \"$TOKEN\"",
    "jwtctl --log-level info refresh --ledger ledger.db \"$TOKEN\"",
    "jwtctl completions bash > /etc/bash_completion.d/jwtctl"
))]
pub struct Cli {
    #[command(flatten)]
    pub log: LogOpts,

    #[command(subcommand)]
    pub command: Command,
}

/// `--alg` as the verifying commands take it.
const ALG_REPEATABLE: &str = "Algorithm to accept; defaults to the one the key implies (HS256, \
    RS256, ES256, ES384, ES512, EdDSA). Repeat it to accept several";

// Each subcommand's arguments are defined only when that subcommand runs (`defer`): building
// every subcommand's argument list cost about a third of jwtctl's start-up.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Sign a new token and print it.
    #[command(after_long_help = long_help!(
        "jwtctl issue --sub alice --aud api --ttl 12h --claim role=admin",
        "jwtctl issue --key-file ed.pem --output json | jq -r .expires_at",
        "jwtctl issue --jwks ring.json --sub bob"
    ))]
    Issue(IssueArgs),
    /// Check a token's signature and claims; print its claims as JSON.
    #[command(after_long_help = long_help!(
        "jwtctl verify --iss https://auth.example --aud api \"$TOKEN\"",
        "echo \"$TOKEN\" | jwtctl verify --output json --aud api | jq .valid",
        "jwtctl verify --oidc https://token.actions.githubusercontent.com --aud sts.example \"$ID_TOKEN\"",
        "jwtctl verify --batch --jwks idp-jwks.json --aud api < tokens.txt"
    ))]
    Verify(VerifyArgs),
    /// Verify a token, then print a new one with the same claims and a new lifetime.
    #[command(after_long_help = long_help!(
        "jwtctl refresh --ledger ledger.db --aud api --ttl 30m \"$TOKEN\"",
        "jwtctl refresh --dry-run --aud api \"$TOKEN\""
    ))]
    Refresh(RefreshArgs),
    /// Check a token's signature and record its id as revoked in the ledger.
    #[command(after_long_help = long_help!(
        "jwtctl revoke --ledger ledger.db \"$TOKEN\"",
        "jwtctl revoke --ledger ledger.db --jti Xq0r3zH8kBvN1w2yQm6T1g --iss https://auth.example"
    ))]
    Revoke(RevokeArgs),
    /// Decode a token's header and claims WITHOUT verifying anything.
    #[command(after_long_help = long_help!(
        "jwtctl inspect \"$TOKEN\"",
        "jwtctl inspect --output json \"$TOKEN\" | jq .claims"
    ))]
    Inspect(InspectArgs),
    /// Make, publish and fingerprint signing keys.
    #[command(after_long_help = long_help!(
        "jwtctl key gen --add-to ring.json",
        "jwtctl key public --jwks ring.json --format jwks > jwks.json",
        "jwtctl key thumbprint --key-file ed.pem"
    ))]
    Key(KeyCmd),
    /// Show or empty the cache of fetched JWK Sets.
    #[command(after_long_help = long_help!(
        "jwtctl cache list",
        "jwtctl cache clear --cache-dir /var/cache/jwtctl"
    ))]
    Cache(CacheCmd),
    /// Create the ledger, and list, count or prune its consumed and revoked ids.
    #[command(after_long_help = long_help!(
        "jwtctl ledger init --ledger ledger.db",
        "jwtctl ledger list --ledger ledger.db --state revoked",
        "jwtctl ledger prune --ledger ledger.db"
    ))]
    Ledger(LedgerCmd),
    /// Search, follow and prove the security log: search, tail, verify its chain and seals,
    /// seal it, show its head.
    #[command(after_long_help = log_help!(
        "jwtctl log search --sub alice --since 24h",
        "printf %s \"$TOKEN\" | jwtctl log search --token -",
        "jwtctl log tail -f --outcome failure",
        "jwtctl log seal init --interval 15m --verify-key-out /secure/offline/jwtctl-seal.key",
        "jwtctl log verify --verify-key /secure/offline/jwtctl-seal.key",
        "jwtctl log head >> /audit/anchors.txt"
    ))]
    Log(LogCmd),
    /// Write, check and pin CI identity policies (--policy FILE): who may deploy.
    #[command(after_long_help = long_help!(
        "jwtctl policy new --preset github-actions --repository acme/deploy > deploy.toml",
        "jwtctl policy pin \"$ID_TOKEN\"",
        "jwtctl policy check deploy.toml"
    ))]
    Policy(PolicyCmd),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    #[command(after_long_help = long_help!(
        "jwtctl completions bash > ~/.local/share/bash-completion/completions/jwtctl",
        "jwtctl completions zsh > \"${fpath[1]}/_jwtctl\"",
        "jwtctl completions fish > ~/.config/fish/completions/jwtctl.fish"
    ))]
    Completions(CompletionsArgs),
    /// Write man pages, one per command, into a directory.
    #[command(after_long_help = long_help!(
        "mkdir -p man1 && jwtctl man --dir man1 && man -l man1/jwtctl-verify.1"
    ))]
    Man(ManArgs),
}

/// Every operation's name as records write it ([`Command::op`]), and the command groups' own
/// (`key`, `ledger`, `cache`: a usage error that names no subcommand of theirs).
pub const OPERATIONS: [&str; 32] = [
    "issue",
    "verify",
    "refresh",
    "revoke",
    "inspect",
    "key",
    "key_gen",
    "key_public",
    "key_thumbprint",
    "key_retire",
    "key_remove",
    "cache",
    "cache_list",
    "cache_clear",
    "ledger",
    "ledger_init",
    "ledger_list",
    "ledger_stats",
    "ledger_prune",
    "log",
    "log_search",
    "log_tail",
    "log_verify",
    "log_head",
    "log_seal_init",
    "policy",
    "policy_check",
    "policy_new",
    "policy_pin",
    "completions",
    "man",
    "jwtctl",
];

impl Command {
    /// The operation's name, as written to the security log.
    pub fn op(&self) -> &'static str {
        match self {
            Command::Issue(_) => "issue",
            Command::Verify(_) => "verify",
            Command::Refresh(_) => "refresh",
            Command::Revoke(_) => "revoke",
            Command::Inspect(_) => "inspect",
            Command::Key(key) => match key.action {
                KeyAction::Gen(_) => "key_gen",
                KeyAction::Public(_) => "key_public",
                KeyAction::Thumbprint(_) => "key_thumbprint",
                KeyAction::Retire(_) => "key_retire",
                KeyAction::Remove(_) => "key_remove",
            },
            Command::Ledger(ledger) => match ledger.action {
                LedgerAction::Init(_) => "ledger_init",
                LedgerAction::List(_) => "ledger_list",
                LedgerAction::Stats(_) => "ledger_stats",
                LedgerAction::Prune(_) => "ledger_prune",
            },
            Command::Log(log) => log.action.op(),
            Command::Policy(policy) => match policy.action {
                PolicyAction::Check(_) => "policy_check",
                PolicyAction::New(_) => "policy_new",
                PolicyAction::Pin(_) => "policy_pin",
            },
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
            Command::Cache(cache) => match cache.action {
                CacheAction::List(_) => "cache_list",
                CacheAction::Clear(_) => "cache_clear",
            },
        }
    }

    /// Whether the command's result goes to stdout (everything but `verify --quiet`).
    pub fn prints(&self) -> bool {
        !matches!(self, Command::Verify(args) if args.quiet)
    }

    /// Whether a `--log-file` after this subcommand names the log it checks rather than the log
    /// it writes to (`log verify`).
    pub fn checks_log_file(&self) -> bool {
        matches!(self, Command::Log(log) if matches!(log.action, LogAction::Verify(_)))
    }

    /// The log options given after this subcommand.
    pub fn log_after(&self) -> &LogOpts {
        match self {
            Command::Issue(args) => &args.log,
            Command::Verify(args) => &args.log,
            Command::Refresh(args) => &args.log,
            Command::Revoke(args) => &args.log,
            Command::Inspect(args) => &args.log,
            Command::Key(key) => match &key.action {
                KeyAction::Gen(args) => &args.log,
                KeyAction::Public(args) => &args.log,
                KeyAction::Thumbprint(args) => &args.log,
                KeyAction::Retire(args) | KeyAction::Remove(args) => &args.log,
            },
            Command::Ledger(ledger) => match &ledger.action {
                LedgerAction::List(args) => &args.common.log,
                LedgerAction::Init(args)
                | LedgerAction::Stats(args)
                | LedgerAction::Prune(args) => &args.log,
            },
            Command::Log(log) => match &log.action {
                LogAction::Verify(args) => &args.log,
                LogAction::Head(args) => &args.log,
                LogAction::Seal(args) => &args.log,
                LogAction::Search(args) => &args.log,
                LogAction::Tail(args) => &args.log,
            },
            Command::Policy(policy) => match &policy.action {
                PolicyAction::Check(args) => &args.log,
                PolicyAction::New(args) => &args.log,
                PolicyAction::Pin(args) => &args.log,
            },
            Command::Completions(args) => &args.log,
            Command::Man(args) => &args.log,
            Command::Cache(cache) => match &cache.action {
                CacheAction::List(args) | CacheAction::Clear(args) => &args.log,
            },
        }
    }
}

/// The one group every key-source flag joins (`--key-file`, `--secret-env`, `--jwks`,
/// `--jwks-url`, `--oidc`): at most one of them per command line. Which source wins when none
/// is given is decided in one place, `keys::resolve_source`.
const KEY_SOURCE: &str = "key_source";

// Where the key comes from. Default: `./jwtctl.key` (created by `issue` when missing).
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Key file: PEM (RSA, EC P-256/P-384/P-521, Ed25519), a JWK, or else an HMAC secret
    /// [env: JWTCTL_KEY_FILE]
    #[arg(long, value_name = "PATH", group = KEY_SOURCE)]
    pub key_file: Option<PathBuf>,

    /// Read the HMAC secret from the environment variable NAME [default variable: JWTCTL_SECRET]
    #[arg(long, value_name = "NAME", group = KEY_SOURCE)]
    pub secret_env: Option<String>,

    /// Algorithm; defaults to the one the key implies (HS256, RS256, ES256, ES384, ES512, EdDSA)
    #[arg(long, value_name = "ALG", value_enum)]
    pub alg: Vec<Alg>,

    /// Accept an HMAC secret shorter than the hash output (logged at WARN)
    #[arg(long)]
    pub allow_weak_secret: bool,

    /// The password of an encrypted private key (PKCS#8), in FILE (less one trailing newline)
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub password_file: Option<PathBuf>,

    /// The password of an encrypted private key, in environment variable NAME
    #[arg(long, value_name = "NAME")]
    pub password_env: Option<String>,

    /// How an HMAC secret in a file or variable is stored; its length rule counts decoded bytes
    #[arg(long, value_name = "ENCODING", value_enum, default_value_t = SecretEncodingArg::Raw)]
    pub secret_encoding: SecretEncodingArg,
}

/// `--secret-encoding` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretEncodingArg {
    Raw,
    Base64,
    Base64url,
    Hex,
}

/// The JWS algorithms jwtctl can sign and verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "verbatim")]
pub enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
    /// EdDSA on Ed25519, fully specified (RFC 9864)
    Ed25519,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Subject (`sub`)
    #[arg(long, value_name = "SUB", value_parser = id(SUB))]
    pub sub: Option<String>,

    /// Issuer (`iss`)
    #[arg(long, value_name = "ISS", value_parser = id(ISS))]
    pub iss: Option<String>,

    /// Audience (`aud`); repeat for several (then `aud` is an array)
    #[arg(long, value_name = "AUD", value_parser = id(AUD))]
    pub aud: Vec<String>,

    /// Lifetime: `exp` = now + TTL
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_ttl)]
    pub ttl: Duration,

    /// Extra claim; VALUE is JSON when it parses as JSON, else a string. Repeatable
    #[arg(long = "claim", value_name = "KEY=VALUE")]
    pub claims: Vec<String>,

    /// A JSON object of claims, from FILE or `-` for stdin; flags win over it
    #[arg(long = "claims", value_name = "FILE")]
    pub claims_file: Option<PathBuf>,

    /// Key id for the header (`kid`); default: the JWK's kid, else an asymmetric key's RFC 7638
    /// thumbprint. With --jwks, the ring's key to sign with. A kid may begin with `-`
    #[arg(long, value_name = "KID", allow_hyphen_values = true, value_parser = id(KID))]
    pub kid: Option<String>,

    /// Not valid before TIME (`nbf`): RFC 3339, Unix seconds, or a duration from now (5m) or ago
    /// (5m ago)
    #[arg(long, value_name = "TIME", value_parser = parse_when_ahead)]
    pub nbf: Option<When>,

    /// Issued at TIME (`iat`) instead of now, for tests: absolute, or `2h ago`; the lifetime
    /// (--ttl) counts from it
    #[arg(long, value_name = "TIME", value_parser = parse_when_ahead)]
    pub iat: Option<When>,

    /// Expires at TIME (`exp`) instead of iat + --ttl, for tests: absolute, a duration from now,
    /// or `1h ago` for a token already expired
    #[arg(long, value_name = "TIME", value_parser = parse_when_ahead, conflicts_with = "ttl")]
    pub exp: Option<When>,

    /// The token's id (`jti`) instead of 128 random bits; it must be unique per issuer
    #[arg(long, value_name = "ID", allow_hyphen_values = true, value_parser = id(NEW_JTI))]
    pub jti: Option<String>,

    /// The header `typ` (RFC 7515 §4.1.9), e.g. `at+jwt` for an access token (RFC 9068)
    #[arg(long, value_name = "TYP", default_value = "JWT", value_parser = parse_typ)]
    pub typ: String,

    /// Sign with a key ring (a private JWK Set): the key --kid names, else the newest key in use
    #[arg(long, value_name = "RING", group = KEY_SOURCE)]
    pub jwks: Option<PathBuf>,

    /// `text`: the token and a newline; `json`: {"token","jti","kid","exp","expires_at"}
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub log: LogOpts,
}

// What a token must satisfy. Shared by `verify` and `refresh`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The token; read from stdin when absent or `-`
    #[arg(value_name = "TOKEN")]
    pub token: Option<std::ffi::OsString>,

    /// Required issuer
    #[arg(long, value_name = "ISS", value_parser = id(ISS))]
    pub iss: Option<String>,

    /// Required subject
    #[arg(long, value_name = "SUB", value_parser = id(SUB))]
    pub sub: Option<String>,

    /// Accepted audience; repeat for several (the token must carry one of them)
    #[arg(long, value_name = "AUD", value_parser = id(AUD))]
    pub aud: Vec<String>,

    /// Clock skew tolerated for `exp`, `nbf` and `iat`
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_leeway)]
    pub leeway: Duration,

    /// Ledger of consumed and revoked token ids (SQLite file or postgres:// URL); revoked tokens are rejected
    #[arg(long, env = "JWTCTL_LEDGER", value_name = "PATH|URL")]
    pub ledger: Option<PathBuf>,

    /// A JWK Set file; the key is chosen by the token's `kid`
    #[arg(long, value_name = "PATH", group = KEY_SOURCE)]
    pub jwks: Option<PathBuf>,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// A claim that must be present; repeatable
    #[arg(long, value_name = "CLAIM", value_parser = id(CLAIM))]
    pub require: Vec<String>,

    /// A claim that must equal VALUE exactly (JSON when it parses as JSON, else a string);
    /// repeatable, all must hold
    #[arg(long = "claim-eq", value_name = "NAME=VALUE")]
    pub claim_eq: Vec<String>,

    /// A string claim the GLOB must match whole (`*` any run, `?` one character); repeatable
    #[arg(long = "claim-match", value_name = "NAME=GLOB")]
    pub claim_match: Vec<String>,

    /// The header `typ` required (case-insensitive); without it, `typ` must be absent or JWT
    #[arg(long, value_name = "TYP", value_parser = parse_typ)]
    pub typ: Option<String>,

    /// Reject tokens that expire sooner than this
    #[arg(long, value_name = "DURATION", value_parser = parse_leeway)]
    pub min_remaining: Option<Duration>,

    /// Reject tokens whose `iat` is older than this
    #[arg(long, value_name = "DURATION", value_parser = parse_leeway)]
    pub max_age: Option<Duration>,

    /// Reject tokens longer than this many bytes, before decoding them (above the default:
    /// recorded at WARN)
    #[arg(long, value_name = "BYTES", default_value_t = crate::token::DEFAULT_MAX_TOKEN_SIZE)]
    pub max_token_size: usize,

    #[command(flatten)]
    pub key: KeyArgs,
}

/// The flags a `--policy` file replaces on `refresh`: those of [`POLICY_REPLACES`] that say how
/// the presented token is checked. `--key-file` and `--secret-env` stay: they name the key
/// refresh signs with (`--alg` goes: it would also narrow the issuer's algorithms); so does
/// `--iss`, which then names the issuer the new token carries (jwtctl's, not the provider's).
const REFRESH_POLICY_REPLACES: [&str; 9] = [
    "alg",
    "aud",
    "jwks",
    "jwks_url",
    "oidc",
    "require",
    "claim_eq",
    "claim_match",
    "max_age",
];

/// The flags a `--policy` file replaces on `revoke`: its key sources.
const REVOKE_POLICY_REPLACES: [&str; 5] = ["jwks_url", "oidc", "key_file", "secret_env", "alg"];

/// The flags a `--policy` file replaces: giving one with it is a usage error naming both.
const POLICY_REPLACES: [&str; 12] = [
    "iss",
    "aud",
    "alg",
    "jwks",
    "jwks_url",
    "oidc",
    "key_file",
    "secret_env",
    "require",
    "claim_eq",
    "claim_match",
    "max_age",
];

// A JWK Set fetched over HTTPS; for `verify`, `refresh` and `revoke`.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Fetch the JWK Set from URL (HTTPS; plain http only to loopback), cached on disk
    #[arg(long, value_name = "URL", group = KEY_SOURCE)]
    pub jwks_url: Option<String>,

    /// OpenID Connect discovery: use ISSUER's JWK Set, and require the token's `iss` to be ISSUER
    #[arg(long, value_name = "ISSUER", group = KEY_SOURCE)]
    pub oidc: Option<String>,

    /// Trust the CA certificates in this PEM file for fetching, besides the platform's store
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Time allowed for a whole fetch (connecting: at most 5s of it)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_ttl)]
    pub fetch_timeout: Duration,

    /// Where fetched sets are cached [default: $XDG_CACHE_HOME/jwtctl, else ~/.cache/jwtctl]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Use cached sets only, never the network (a copy up to 24h old)
    #[arg(long)]
    pub offline: bool,
}

impl VerifyArgs {
    /// The output format asked for, text by default.
    pub fn output(&self) -> Output {
        self.output.unwrap_or(Output::Text)
    }
}

#[derive(Debug, Args)]
#[command(mut_arg("alg", |a| a.help(ALG_REPEATABLE)))]
pub struct VerifyArgs {
    #[command(flatten)]
    pub check: CheckArgs,

    /// Verify as of this instant, for forensics and test vectors: RFC 3339, Unix seconds, or
    /// relative (`2h ago`, `yesterday`, `in 1h`)
    #[arg(long, value_name = "TIME", value_parser = parse_when)]
    pub at: Option<When>,

    /// `text` (default): the claims as one JSON line; `json`: a result object, with rejections
    /// on stdout. `--batch` always prints JSON lines
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub output: Option<Output>,

    /// Print nothing for a valid or rejected token: the exit code tells
    #[arg(short, long)]
    pub quiet: bool,

    /// Verify tokens read one per line from stdin; one JSON result per token, in order
    #[arg(long, conflicts_with = "token")]
    pub batch: bool,

    /// A policy file (TOML or JSON): the issuers trusted, each with its keys, audiences,
    /// algorithms, maximum age and claim rules; it replaces the flags that say the same
    #[arg(long, value_name = "FILE", conflicts_with_all = POLICY_REPLACES)]
    pub policy: Option<PathBuf>,

    #[command(flatten)]
    pub log: LogOpts,
}

/// How `verify` reports its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct KeyCmd {
    #[command(subcommand)]
    pub action: KeyAction,
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Make a new key and write it, private, to a file (created 0600), or make it in a token
    #[command(after_long_help = long_help!(
        "jwtctl key gen --out ed.pem",
        "jwtctl key gen --type rsa --bits 4096 --out rsa.pem",
        "jwtctl key gen --type hmac --out hs.key",
        "jwtctl key gen --add-to ring.json",
        "jwtctl key gen --type ec --pkcs11 'pkcs11:token=ci;object=jwt-signing?pin-source=file:/run/pin'"
    ))]
    Gen(KeyGenArgs),
    /// Print a key's public half: a JWK, a JWK Set, or SPKI PEM
    #[command(after_long_help = long_help!(
        "jwtctl key public --key-file ed.pem --format pem",
        "jwtctl key public --jwks ring.json --format jwks > jwks.json"
    ))]
    Public(KeyPublicArgs),
    /// Print a key's RFC 7638 thumbprint, the kid jwtctl gives it
    #[command(after_long_help = long_help!("jwtctl key thumbprint --key-file ed.pem"))]
    Thumbprint(KeyThumbprintArgs),
    /// Stop signing with a key ring's key; it stays in the ring to verify tokens it signed
    #[command(after_long_help = long_help!("jwtctl key retire --kid OLD_KID ring.json"))]
    Retire(KeyRingArgs),
    /// Delete a key from a key ring; tokens it signed no longer verify
    #[command(after_long_help = long_help!("jwtctl key remove --kid OLD_KID ring.json"))]
    Remove(KeyRingArgs),
}

#[derive(Debug, Args)]
pub struct LedgerCmd {
    #[command(subcommand)]
    pub action: LedgerAction,
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Create the ledger (its file, or its tables in PostgreSQL): the one command that does
    #[command(after_long_help = long_help!(
        "jwtctl ledger init --ledger ledger.db",
        "JWTCTL_LEDGER=postgres://jwtctl@db.internal/jwtctl jwtctl ledger init"
    ))]
    Init(LedgerArgs),
    /// List the ids: state, id, exp, when recorded (RFC 3339; --output json: Unix seconds)
    #[command(after_long_help = long_help!(
        "jwtctl ledger list --ledger ledger.db",
        "jwtctl ledger list --ledger ledger.db --state revoked --output json | jq -r .id"
    ))]
    List(LedgerListArgs),
    /// Count the ids by state, and the oldest entry
    #[command(after_long_help = long_help!("jwtctl ledger stats --ledger ledger.db"))]
    Stats(LedgerArgs),
    /// Forget the ids whose tokens expired more than 24h ago
    #[command(after_long_help = long_help!("jwtctl ledger prune --ledger ledger.db"))]
    Prune(LedgerArgs),
}

#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// The ledger: a SQLite file, or a postgres:// URL (a password only via JWTCTL_LEDGER or PGPASSFILE)
    #[arg(long, env = "JWTCTL_LEDGER", value_name = "PATH|URL", required = true)]
    pub ledger: PathBuf,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct LedgerListArgs {
    /// Only ids in this state
    #[arg(long, value_name = "STATE", value_parser = ["consumed", "revoked"])]
    pub state: Option<String>,

    /// `text`: one tab-separated line per id, times RFC 3339; `json`: one JSON object per line,
    /// times in Unix seconds
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    #[command(flatten)]
    pub common: LedgerArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write jwtctl.1, jwtctl-issue.1, ... into (it must exist)
    #[arg(long, value_name = "DIR", required = true)]
    pub dir: PathBuf,

    #[command(flatten)]
    pub log: LogOpts,
}

/// Which records the `log` commands print, and how.
#[derive(Debug, Args)]
pub struct LogFilterArgs {
    /// Records written at or after TIME
    #[arg(long, value_name = "TIME", value_parser = parse_when)]
    pub since: Option<When>,

    /// Records written before TIME
    #[arg(long, value_name = "TIME", value_parser = parse_when)]
    pub until: Option<When>,

    /// Records of this operation (`issue`, `verify`, `refresh`, `revoke`, `key_gen`, ...)
    #[arg(long, value_name = "OP", value_parser = id(OP))]
    pub op: Option<String>,

    /// Records with this outcome
    #[arg(long, value_name = "OUTCOME", value_parser = ["success", "failure", "warning"])]
    pub outcome: Option<String>,

    /// Records with this reason code (`expired`, `reused`, `bad_signature`, ...)
    #[arg(long, value_name = "REASON", value_parser = id(REASON))]
    pub reason: Option<String>,

    /// Records of tokens with this subject
    #[arg(long, value_name = "SUB", allow_hyphen_values = true, value_parser = id(SUB))]
    pub sub: Option<String>,

    /// Records of tokens from this issuer
    #[arg(long, value_name = "ISS", value_parser = id(ISS))]
    pub iss: Option<String>,

    /// Records of the token with this id (not of its refreshed children: their parent_jti)
    #[arg(long, value_name = "ID", allow_hyphen_values = true, value_parser = id(JTI))]
    pub jti: Option<String>,

    /// Records of tokens signed with this key id
    #[arg(long, value_name = "KID", allow_hyphen_values = true, value_parser = id(KID))]
    pub kid: Option<String>,

    /// Records of this token (its rejections; at --log-level info also its issue, verifications
    /// and refreshes), found by its SHA-256;
    /// `-` reads it from stdin. The token is never printed or recorded
    #[arg(long, value_name = "TOKEN|-")]
    pub token: Option<std::ffi::OsString>,

    /// `text`: a table (time, level, op, outcome, sub, iss, jti, kid); `json`: each record's
    /// line as the log holds it
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct LogSearchArgs {
    /// Logs to read, each with the files rotated from it [default: the security log]
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub filter: LogFilterArgs,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct LogTailArgs {
    /// The log to read, with the files rotated from it [default: the security log]
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// How many of the last matching records to print first
    #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
    pub lines: usize,

    /// Keep reading: print matching records as they are written, across rotations, until
    /// interrupted or stdout is closed
    #[arg(short, long)]
    pub follow: bool,

    #[command(flatten)]
    pub filter: LogFilterArgs,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct CacheCmd {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List the cached sets: URL, age in seconds, size in bytes
    #[command(after_long_help = long_help!("jwtctl cache list"))]
    List(CacheArgs),
    /// Remove every cached set
    #[command(after_long_help = long_help!("jwtctl cache clear"))]
    Clear(CacheArgs),
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// The cache directory [default: $XDG_CACHE_HOME/jwtctl, else ~/.cache/jwtctl]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct PolicyCmd {
    #[command(subcommand)]
    pub action: PolicyAction,
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Check a policy file and print it normalised; exit 2 with the line of the first error
    #[command(after_long_help = long_help!(
        "jwtctl policy check deploy.toml",
        "jwtctl policy check deploy.toml > normalised.toml"
    ))]
    Check(PolicyCheckArgs),
    /// Print a starting policy, with comments, for a CI provider
    #[command(after_long_help = long_help!(
        "jwtctl policy new --preset github-actions --repository acme/deploy > deploy.toml",
        "jwtctl policy new --preset gitlab --issuer https://gitlab.acme.example > deploy.toml"
    ))]
    New(PolicyNewArgs),
    /// Print the id rules that pin the names a sample token carries (GitHub, GitLab, Kubernetes)
    #[command(after_long_help = long_help!(
        "jwtctl policy pin \"$ID_TOKEN\" >> deploy.toml"
    ))]
    Pin(PolicyPinArgs),
}

#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    /// The policy file (TOML, or JSON)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct PolicyNewArgs {
    /// The CI provider: its issuer URL and the claims its tokens carry
    #[arg(long, value_name = "PRESET", value_parser = ["github-actions", "gitlab", "buildkite", "kubernetes", "google"])]
    pub preset: String,

    /// A repository (GitHub) or project (GitLab) allowed to deploy, as OWNER/NAME; repeatable
    #[arg(long, value_name = "OWNER/NAME", value_parser = id(REPOSITORY))]
    pub repository: Vec<String>,

    /// The issuer URL, for a self-hosted server or a test [default: the provider's]
    #[arg(long, value_name = "URL", value_parser = id(ISS))]
    pub issuer: Option<String>,

    /// The audience the tokens are minted for [default: a placeholder to replace]
    #[arg(long, value_name = "AUD", value_parser = id(AUD))]
    pub aud: Option<String>,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct PolicyPinArgs {
    /// A sample token from the CI provider (read from stdin when absent or `-`); it is only
    /// decoded, not verified: check the rules it prints
    #[arg(value_name = "TOKEN")]
    pub token: Option<std::ffi::OsString>,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct LogCmd {
    #[command(subcommand)]
    pub action: LogAction,
}

/// The `log` commands: search and tail read the log through `audit::read`; verify, head and
/// seal prove it was not touched.
#[derive(Debug, Subcommand)]
pub enum LogAction {
    /// Print the records that match every filter given, oldest first
    #[command(after_long_help = log_help!(
        "jwtctl log search --sub alice --since yesterday --until today",
        "jwtctl log search --jti Xq0r3zH8kBvN1w2yQm6T1g --output json",
        "jwtctl log search /var/log/jwtctl/security.log --op refresh --outcome failure"
    ))]
    Search(LogSearchArgs),
    /// Print the last records that match; with -f, go on printing them as they are written
    #[command(after_long_help = log_help!(
        "jwtctl log tail -n 20",
        "jwtctl log tail -f --outcome failure",
        "jwtctl log tail -f /var/log/jwtctl/security.log --op refresh"
    ))]
    Tail(LogTailArgs),
    /// Check the log's chain (and, with --verify-key, its seals); exit 0 intact, 1 tampered
    #[command(after_long_help = long_help!(
        "jwtctl log verify",
        "jwtctl log verify --verify-key seal.key --output json security.log.1 security.log",
        "jwtctl log verify --expect-head 1042:9f86d081884c7d65… copy-of-security.log"
    ))]
    Verify(LogVerifyArgs),
    /// Print the log's head, SEQ:HASH, to keep elsewhere and pass to verify --expect-head later
    #[command(after_long_help = long_help!("jwtctl log head | logger -t jwtctl-anchor"))]
    Head(LogHeadArgs),
    /// Set up forward-secure sealing of the log: `log seal init`
    #[command(after_long_help = long_help!(
        "jwtctl log seal init --verify-key-out /media/offline/seal.key",
        "jwtctl log seal init --interval 1h | gpg -e -r auditor@example > seal.key.gpg"
    ))]
    Seal(SealInitArgs),
}

#[derive(Debug, Args)]
pub struct LogVerifyArgs {
    /// Log files to check, oldest first [default: the security log, --log-file]
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The verify key `log seal init` printed: check every seal with its own epoch's key
    #[arg(long, value_name = "FILE")]
    pub verify_key: Option<PathBuf>,

    /// A head noted earlier (`log head`): the log must still hold that record, unchanged
    #[arg(long, value_name = "SEQ:HASH", value_parser = parse_head)]
    pub expect_head: Option<(u64, String)>,

    /// `text`: one line on stderr; `json`: the report on stdout
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct LogHeadArgs {
    /// `text`: SEQ:HASH; `json`: seq, hash and the sealing's state
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    #[command(flatten)]
    pub log: LogOpts,
}

/// What `log seal` does (one action today; a word, so that more can follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SealVerb {
    /// Start sealing the log: print the verify key once (keep it off this host)
    Init,
}

#[derive(Debug, Args)]
pub struct SealInitArgs {
    /// `init`: start sealing the log and print the verify key once
    #[arg(value_name = "ACTION", value_enum)]
    pub action: SealVerb,

    /// How often an epoch ends and is sealed: 1s to 24h
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_interval)]
    pub interval: Duration,

    /// Write the verify key to this new file (mode 0600) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub verify_key_out: Option<PathBuf>,

    #[command(flatten)]
    pub log: LogOpts,
}

impl LogAction {
    /// The operation's name, as written to the security log.
    pub fn op(&self) -> &'static str {
        match self {
            LogAction::Search(_) => "log_search",
            LogAction::Tail(_) => "log_tail",
            LogAction::Verify(_) => "log_verify",
            LogAction::Head(_) => "log_head",
            LogAction::Seal(_) => "log_seal_init",
        }
    }
}

/// `SEQ:HASH` as `log head` prints it (`0:HASH` for an empty log).
pub fn parse_head(s: &str) -> Result<(u64, String), String> {
    let bad = || "expected SEQ:HASH as jwtctl log head prints it (1042:9f86d0…, 64 hex digits)";
    let (seq, hash) = s.trim().split_once(':').ok_or_else(bad)?;
    let seq: u64 = seq.parse().map_err(|_| bad())?;
    let hash = hash.to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad().into());
    }
    Ok((seq, hash))
}

/// A seal interval: 1s to 24h, whole seconds.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| "expected a duration from 1s to 24h, such as 15m".to_string())?;
    if d.subsec_nanos() != 0 || d.as_secs() < 1 || d.as_secs() > 24 * 3600 {
        return Err("the interval is whole seconds from 1s to 24h".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct KeyRingArgs {
    /// The key's kid
    #[arg(
        long,
        value_name = "KID",
        allow_hyphen_values = true,
        required = true,
        value_parser = id(RING_KID)
    )]
    pub kid: String,

    /// The key ring (a JWK Set file)
    #[arg(value_name = "RING")]
    pub ring: PathBuf,

    #[command(flatten)]
    pub log: LogOpts,
}

/// The kinds of key `key gen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyType {
    Hmac,
    Rsa,
    Ec,
    Ed25519,
}

/// The EC curves `key gen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Curve {
    #[value(name = "P-256")]
    P256,
    #[value(name = "P-384")]
    P384,
    #[value(name = "P-521")]
    P521,
}

/// How a private key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormat {
    /// PKCS#8 PEM (an HMAC secret: base64url text, as ./jwtctl.key)
    Pem,
    /// A private JWK with kid, alg and use
    Jwk,
}

/// How a public key is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublicFormat {
    /// One public JWK
    Jwk,
    /// A JWK Set: {"keys":[...]}
    Jwks,
    /// SubjectPublicKeyInfo PEM
    Pem,
}

#[derive(Debug, Args)]
pub struct KeyGenArgs {
    /// The kind of key
    #[arg(long = "type", value_name = "TYPE", value_enum, default_value_t = KeyType::Ed25519)]
    pub key_type: KeyType,

    /// RSA modulus size in bits: 2048, 3072 or 4096
    #[arg(long, value_name = "BITS", default_value_t = 3072, value_parser = parse_bits)]
    pub bits: usize,

    /// EC curve
    #[arg(long, value_name = "CURVE", value_enum, default_value_t = Curve::P256)]
    pub curve: Curve,

    /// The algorithm to pin where the type allows several (HS384, PS256, ...)
    #[arg(long, value_name = "ALG", value_enum)]
    pub alg: Option<Alg>,

    /// Where to write the private key: a new file (mode 0600), or `-` for stdout
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present_any = ["add_to", "pkcs11"],
        conflicts_with = "add_to"
    )]
    pub out: Option<PathBuf>,

    /// Append the new key, as a private JWK, to this key ring (a JWK Set, created 0600 if
    /// missing); `issue --jwks RING` then signs with it
    #[arg(long, value_name = "RING")]
    pub add_to: Option<PathBuf>,

    /// How to write it
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = KeyFormat::Pem)]
    pub format: KeyFormat,

    /// Key id for a JWK (default: the RFC 7638 thumbprint; none for an HMAC key)
    #[arg(long, value_name = "KID", allow_hyphen_values = true, value_parser = id(NEW_KID))]
    pub kid: Option<String>,

    /// Replace an existing file (atomically: it is never half-written)
    #[arg(long)]
    pub force: bool,

    /// Encrypt the private key (PKCS#8: PBKDF2-SHA256, 600,000 rounds, and AES-256-CBC) with the password in FILE
    #[arg(long, value_name = "FILE", conflicts_with_all = ["add_to", "password_env"])]
    pub password_file: Option<PathBuf>,

    /// Encrypt the private key with the password in environment variable NAME
    #[arg(long, value_name = "NAME", conflicts_with = "add_to")]
    pub password_env: Option<String>,

    /// Make the key pair inside a PKCS#11 token, under the URI's object= label (never replacing
    /// one): sensitive and not extractable, so it never leaves the token; prints its public JWK.
    /// The PIN comes from the URI's pin-source=file:PATH or JWTCTL_PKCS11_PIN
    #[arg(
        long,
        value_name = "URI",
        conflicts_with_all = ["out", "add_to", "format", "kid", "force", "password_file", "password_env"]
    )]
    pub pkcs11: Option<String>,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct KeyPublicArgs {
    /// A JWK Set (private or public) to publish instead of one key
    #[arg(long, value_name = "PATH", group = KEY_SOURCE)]
    pub jwks: Option<PathBuf>,

    /// How to print it
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = PublicFormat::Jwk)]
    pub format: PublicFormat,

    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct KeyThumbprintArgs {
    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub log: LogOpts,
}

/// An RSA modulus size `key gen` makes.
pub fn parse_bits(s: &str) -> Result<usize, String> {
    match s {
        "2048" | "3072" | "4096" => s.parse().map_err(|_| "not a number".to_string()),
        _ => Err("RSA keys are 2048, 3072 or 4096 bits".into()),
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token; read from stdin when absent or `-`
    #[arg(value_name = "TOKEN")]
    pub token: Option<std::ffi::OsString>,

    /// `text`: header and claims, and the times as RFC 3339 with how far off they are; `json`:
    /// {"header":{...},"claims":{...}}
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
#[command(mut_arg("alg", |a| a.help(ALG_REPEATABLE)))]
pub struct RefreshArgs {
    #[command(flatten)]
    pub check: CheckArgs,

    /// Lifetime of the new token: `exp` = min(now + TTL, orig_iat + MAX-LIFETIME)
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_ttl)]
    pub ttl: Duration,

    /// Cap on a token family's whole life, counted from `orig_iat` (above 24h: recorded at WARN)
    #[arg(
        long,
        env = "JWTCTL_MAX_LIFETIME",
        value_name = "DURATION",
        default_value = MAX_LIFETIME,
        value_parser = parse_ttl
    )]
    pub max_lifetime: Duration,

    /// How long after `exp` a token may still be refreshed (at most 24h; recorded at WARN)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_grace)]
    pub grace: Duration,

    /// Print the claims the new token would carry, without signing or consuming anything
    #[arg(long)]
    pub dry_run: bool,

    /// Refresh without a ledger: the same token can then be refreshed any number of times
    /// (recorded at WARN); without it, refresh needs --ledger / JWTCTL_LEDGER
    #[arg(long)]
    pub no_ledger: bool,

    /// `text`: the token and a newline; `json`: {"token","jti","kid","exp","expires_at"}
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// A policy file (TOML or JSON) the presented token must satisfy, as for `verify`; the new
    /// token is signed with refresh's own key (--key-file, --secret-env, the default key) and
    /// names --iss (required with --policy: jwtctl's issuer, not the provider's) as its issuer
    #[arg(long, value_name = "FILE", conflicts_with_all = REFRESH_POLICY_REPLACES)]
    pub policy: Option<PathBuf>,

    #[command(flatten)]
    pub log: LogOpts,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token; read from stdin when absent or `-`
    #[arg(value_name = "TOKEN", conflicts_with = "jti")]
    pub token: Option<std::ffi::OsString>,

    /// Revoke by id, as the log records it, without the token (an id may begin with `-`)
    #[arg(long, value_name = "ID", allow_hyphen_values = true, value_parser = id(JTI))]
    pub jti: Option<String>,

    /// With --jti: the issuer the id belongs to; without it, the id is revoked for every issuer
    #[arg(long, value_name = "ISS", requires = "jti", value_parser = id(ISS))]
    pub iss: Option<String>,

    /// With --jti: keep the revocation until TIME (RFC 3339, Unix seconds, or a duration from
    /// now such as 7d) [default: now + 24h]
    #[arg(long, value_name = "TIME", requires = "jti", value_parser = parse_when_ahead)]
    pub until: Option<When>,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Ledger of consumed and revoked token ids (SQLite file or postgres:// URL)
    #[arg(long, env = "JWTCTL_LEDGER", value_name = "PATH|URL")]
    pub ledger: Option<PathBuf>,

    /// A policy file (TOML or JSON): the token's signature is checked with the keys of the
    /// issuer its `iss` names there (an expired token may still be revoked)
    #[arg(long, value_name = "FILE", conflicts_with_all = REVOKE_POLICY_REPLACES, conflicts_with = "jti")]
    pub policy: Option<PathBuf>,

    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub log: LogOpts,
}

/// What to give for an id or identity flag, as its refusal says (`--jti is empty; give …`).
const JTI: &str = "the token's jti (jwtctl inspect or log search --token - shows it)";
const NEW_JTI: &str = "an id unique for this issuer, or leave --jti out for 128 random bits";
const ISS: &str = "the issuer's URL or name, as the token's iss claim holds it";
const SUB: &str = "the subject, as the token's sub claim holds it";
const AUD: &str = "the audience, as the token's aud claim holds it";
const KID: &str = "the key id, as the token's header kid holds it (jwtctl inspect shows it)";
const NEW_KID: &str = "a key id, or leave --kid out for the key's RFC 7638 thumbprint";
const RING_KID: &str = "the kid of a key in the ring (jwtctl key public --jwks RING shows them)";
const OP: &str = "an operation as records name it: issue, verify, refresh, revoke, key_gen, …";
const REASON: &str = "a reason code as records name it: expired, reused, bad_signature, …";
const REPOSITORY: &str = "a repository as OWNER/NAME";
const CLAIM: &str = "a claim's name, such as email or jti";

/// Why an id or identity value typed on the command line is refused, and what to give instead.
/// [`usage::clap_message`] words it as `--FLAG is empty; give …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadId {
    /// What is wrong: `is empty`, `is blank`, `holds a control character`.
    pub problem: &'static str,
    /// What to give.
    pub hint: &'static str,
}

impl std::fmt::Display for BadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; give {}", self.problem, self.hint)
    }
}

impl std::error::Error for BadId {}

pub use crate::id::problem as id_problem;

/// The default cap on a token family's life (`refresh --max-lifetime`); a longer one is a
/// loosening, said and recorded.
pub const MAX_LIFETIME: &str = "24h";

/// The value parser of an id or identity flag: refuses what [`id_problem`] finds, saying `hint`.
fn id(hint: &'static str) -> impl Fn(&str) -> Result<String, BadId> + Clone + Send + Sync {
    move |value: &str| match id_problem(value) {
        Some(problem) => Err(BadId { problem, hint }),
        None => Ok(value.to_owned()),
    }
}

/// A header `typ`: a media type name (RFC 7515 §4.1.9), so printable ASCII without spaces, and
/// not empty (a token with `"typ":""` is one no verifier expects).
pub fn parse_typ(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 127 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "expected a media type such as JWT or at+jwt (printable ASCII, no spaces)".into(),
        );
    }
    Ok(s.to_owned())
}

/// A positive duration such as `90s`, `30m`, `12h`, `7d` or `1h30m`.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let d = parse_leeway(s)?;
    if d.is_zero() {
        return Err("a lifetime must be longer than zero, e.g. 30m".into());
    }
    Ok(d)
}

/// The refresh grace window: zero up to 24h.
pub fn parse_grace(s: &str) -> Result<Duration, String> {
    let d = parse_leeway(s)?;
    if d > Duration::from_secs(24 * 3600) {
        return Err("the grace window is at most 24h".into());
    }
    Ok(d)
}

/// The longest duration any flag takes: 100 years. Longer values are refused as usage errors
/// rather than saturating or overflowing the arithmetic on instants.
pub const MAX_DURATION_SECS: u64 = 100 * 365 * 86_400;

/// An instant: RFC 3339 (`2026-11-26T09:00:00Z`) or Unix seconds, between the years 1 and 9999.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let secs = match s.parse::<i64>() {
        Ok(secs) => secs,
        Err(_) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp())
            .map_err(|_| "expected RFC 3339 (2026-11-26T09:00:00Z) or Unix seconds".to_string())?,
    };
    let year = chrono::DateTime::from_timestamp(secs, 0).map(|t| chrono::Datelike::year(&t));
    match year {
        Some(1..=9999) => Ok(secs),
        _ => Err("the instant must lie between the years 1 and 9999".into()),
    }
}

/// An instant as every time flag takes it: absolute, or relative to when the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    At(i64),
    Ago(Duration),
    /// A duration from now (`in 2h`, `+2h`).
    In(Duration),
    /// Midnight (UTC) today.
    Today,
    /// Midnight (UTC) yesterday.
    Yesterday,
}

impl When {
    /// The instant in Unix seconds, as of `now`.
    pub fn resolve(self, now: i64) -> i64 {
        let midnight = now - now.rem_euclid(86_400);
        match self {
            When::At(at) => at,
            When::Ago(d) => now.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            When::In(d) => now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            When::Today => midnight,
            When::Yesterday => midnight - 86_400,
        }
    }
}

/// The forms every time flag takes, as a refusal lists them.
const TIME_FORMS: &str = "RFC 3339 with a zone (2026-11-26T09:00:00Z), Unix seconds, now, \
     today, yesterday, a duration ago (90m ago, -1h) or from now (in 2h, +2h)";

/// The one grammar of every time flag: an instant ([`parse_time`]), `now`, `today`, `yesterday`
/// (UTC midnights), a duration ([`parse_leeway`]) `ago` or with `-` (past), `in` or with `+`
/// (future). A bare duration is in the past (`--since 1h`); see [`parse_when_ahead`].
pub fn parse_when(s: &str) -> Result<When, String> {
    when(s, When::Ago)
}

/// [`parse_when`], where a bare duration is from now (`revoke --until 7d`, `issue --exp 1h`).
pub fn parse_when_ahead(s: &str) -> Result<When, String> {
    when(s, When::In)
}

fn when(s: &str, bare: fn(Duration) -> When) -> Result<When, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "now" => return Ok(When::Ago(Duration::ZERO)),
        "today" => return Ok(When::Today),
        "yesterday" => return Ok(When::Yesterday),
        _ => {}
    }
    if let Ok(at) = parse_time(t) {
        return Ok(When::At(at));
    }
    let span = |text: &str| parse_leeway(text.trim()).ok();
    let relative = if let Some(rest) = lower.strip_suffix("ago") {
        span(rest).map(When::Ago)
    } else if let Some(rest) = lower.strip_prefix('-') {
        span(rest).map(When::Ago)
    } else if let Some(rest) = lower.strip_prefix("in ") {
        span(rest).map(When::In)
    } else if let Some(rest) = lower.strip_prefix('+') {
        span(rest).map(When::In)
    } else {
        span(&lower).map(bare)
    };
    // A time is not a secret: the refusal shows it (escaped, cut short), with the forms taken.
    relative.ok_or_else(|| {
        let shown: String = crate::escape::json_escaped(t).chars().take(64).collect();
        if t.contains('T') && chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").is_ok()
        {
            return format!("'{shown}' has no time zone; add Z for UTC or an offset (+01:00)");
        }
        format!("'{shown}' is not a time; expected {TIME_FORMS}")
    })
}

/// A duration that may be zero.
pub fn parse_leeway(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| "expected a duration such as 90s, 30m, 12h, 7d or 1h30m".to_string())?;
    if d.subsec_nanos() != 0 {
        return Err("durations are whole seconds, e.g. 90s".into());
    }
    if d.as_secs() > MAX_DURATION_SECS {
        return Err(format!(
            "durations are at most 100 years ({MAX_DURATION_SECS}s)"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::LogLevel;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_its_operation_name() {
        fn walk(cmd: &clap::Command, path: &str, names: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path}{}", sub.get_name());
                walk(sub, &format!("{name}_"), names);
                names.push(name);
            }
        }
        let mut names = Vec::new();
        let mut cli = Cli::command();
        cli.build();
        walk(&cli, "", &mut names);
        names.push("jwtctl".into());
        // `log seal init` records as log_seal_init: `log_seal` is the op of seal records alone.
        for name in &mut names {
            if name == "log_seal" {
                *name = "log_seal_init".into();
            }
        }
        names.sort();
        let mut ops = OPERATIONS.to_vec();
        ops.sort_unstable();
        assert_eq!(names, ops);
    }

    #[test]
    fn any_two_key_sources_on_one_command_line_conflict() {
        let sources: [&[&str]; 5] = [
            &["--key-file", "k"],
            &["--secret-env", "S"],
            &["--jwks", "j"],
            &["--jwks-url", "https://idp.example/jwks"],
            &["--oidc", "https://idp.example"],
        ];
        for (i, a) in sources.iter().enumerate() {
            for b in &sources[i + 1..] {
                let argv = [&["jwtctl", "verify"][..], a, b, &["t"]].concat();
                let e = Cli::try_parse_from(&argv).expect_err("two key sources");
                assert_eq!(
                    e.kind(),
                    clap::error::ErrorKind::ArgumentConflict,
                    "{argv:?}"
                );
            }
        }
        assert!(Cli::try_parse_from(["jwtctl", "verify", "--jwks", "j", "t"]).is_ok());
    }

    #[test]
    fn each_subcommand_is_described_by_its_own_doc_line() {
        // Deferred subcommands must still show their own about text, not a flattened struct's.
        for (cmd, about) in [
            ("verify", "Check a token's signature"),
            ("refresh", "Verify a token, then"),
        ] {
            let help = Cli::try_parse_from(["jwtctl", cmd, "--help"])
                .unwrap_err()
                .render()
                .to_string();
            assert!(help.starts_with(about), "{cmd}: {help}");
        }
    }

    #[test]
    fn id_flags_refuse_what_id_problem_finds() {
        // The rule itself is tested in crate::id; here, that the flags apply it, bidi controls
        // included (a spoofing risk, SECURITY.md).
        for value in ["\t", "\u{202e}gpj.exe", "\u{200b}"] {
            let refused = Cli::try_parse_from(["jwtctl", "revoke", "--jti", value]).unwrap_err();
            assert_eq!(refused.kind(), clap::error::ErrorKind::ValueValidation);
        }
        assert!(Cli::try_parse_from(["jwtctl", "revoke", "--jti", "-odd id"]).is_ok());
    }

    #[test]
    fn the_default_family_cap_parses_as_24h() {
        assert_eq!(parse_ttl(MAX_LIFETIME), Ok(Duration::from_secs(86400)));
    }

    #[test]
    fn durations_read_like_the_readme() {
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("12h"), Ok(Duration::from_secs(43200)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(604800)));
        assert_eq!(parse_ttl("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("-5m").is_err());
        assert!(parse_ttl("soon").is_err());
        assert!(parse_ttl("1500ms").is_err());
        assert_eq!(parse_leeway("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn log_options_go_before_or_after_the_subcommand_and_after_wins() {
        let level = |argv: &[&str]| {
            let cli = Cli::try_parse_from(argv).unwrap();
            resolve(cli.command.log_after(), &cli.log).0.level
        };
        assert_eq!(
            level(&["jwtctl", "--log-level", "info", "issue"]),
            LogLevel::Info
        );
        assert_eq!(
            level(&["jwtctl", "issue", "--log-level", "info"]),
            LogLevel::Info
        );
        let both = [
            "jwtctl",
            "--log-level",
            "warn",
            "issue",
            "--log-level",
            "debug",
        ];
        assert_eq!(level(&both), LogLevel::Debug, "after the subcommand wins");
        let nested = [
            "jwtctl",
            "--log-level",
            "info",
            "key",
            "gen",
            "--out",
            "k",
            "--log-level",
            "warn",
        ];
        assert_eq!(level(&nested), LogLevel::Warn);
        let default = Cli::try_parse_from(["jwtctl", "issue"]).unwrap();
        let (config, _) = resolve(default.command.log_after(), &default.log);
        assert_eq!(config.path, PathBuf::from("security.log"));
        assert!(Cli::try_parse_from(["jwtctl", "issue", "--log-level", "off"]).is_err());
    }

    #[test]
    fn log_times_are_instants_or_relative_to_now() {
        let now = 1_795_687_200 + 5_400; // 2026-11-26T11:30:00Z
        let at = |s: &str| parse_when(s).map(|w| w.resolve(now));
        assert_eq!(at("2026-11-26T09:00:00Z"), Ok(1_795_683_600));
        assert_eq!(at("1795683600"), Ok(1_795_683_600));
        assert_eq!(at("1h"), Ok(now - 3600));
        assert_eq!(at("90m ago"), Ok(now - 5400));
        assert_eq!(at("now"), Ok(now));
        assert_eq!(at("today"), Ok(1_795_651_200)); // 2026-11-26T00:00:00Z
        assert_eq!(at("Yesterday"), Ok(1_795_651_200 - 86_400));
        assert!(at("soon").is_err());
        // One grammar for every time flag: signs and words say the direction.
        assert_eq!(at("-1h"), Ok(now - 3600));
        assert_eq!(at("+1h"), Ok(now + 3600));
        assert_eq!(at("in 2h"), Ok(now + 7200));
        let ahead = |s: &str| parse_when_ahead(s).map(|w| w.resolve(now));
        assert_eq!(ahead("7d"), Ok(now + 7 * 86_400));
        assert_eq!(ahead("1h ago"), Ok(now - 3600));
        let zoneless = parse_when("2026-11-26T09:14:00").unwrap_err();
        assert!(zoneless.contains("no time zone"), "{zoneless}");
        let refused = parse_when("yesterday\u{1b}[2J").unwrap_err();
        assert!(
            refused.contains("is not a time") && !refused.contains('\u{1b}'),
            "{refused}"
        );
    }

    #[test]
    fn repeated_audiences_and_claims_are_kept_in_order() {
        let cli = Cli::try_parse_from([
            "jwtctl", "issue", "--aud", "a", "--aud", "b", "--claim", "x=1", "--claim", "y=a=b",
        ])
        .unwrap();
        let Command::Issue(args) = cli.command else {
            panic!("not issue")
        };
        assert_eq!(args.aud, ["a", "b"]);
        assert_eq!(args.claims, ["x=1", "y=a=b"]);
    }
}
