//! Command-line arguments (the contract in DESIGN.md §2).
//!
//! build.rs compiles this file too (man pages and shell completions for the Debian package):
//! it may use std and clap only, nothing of this crate.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Where the operation journals live unless `--state-dir` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/pbs-mover";
/// PBS's lock dir, unless `--lock-dir` says otherwise (`ops::locks::paths::DEFAULT_LOCK_DIR`,
/// which this file may not import; a test in cli/demo.rs keeps the two equal).
pub const DEFAULT_LOCK_DIR: &str = "/run/proxmox-backup/locks";

#[derive(Debug, Parser)]
#[command(
    name = "pbs-mover",
    version,
    about = "Browse and move backup groups and namespaces inside a Proxmox Backup Server datastore",
    after_help = "Without a subcommand the TUI opens. Exit codes: 0 done, 1 refused/failed (nothing changed), \
                  2 usage error, 3 busy (lock held; retry later, or wait with --wait[=SECS]: bare --wait \
                  has no time limit), 4 partial (some groups moved), \
                  5 cancelled (Ctrl-C or SIGTERM: the move stopped after the current snapshot; what moved \
                  stays moved, the rest stays at the source, each snapshot in one place). A second Ctrl-C \
                  (or SIGTERM) aborts at once: exit 130 (143 for SIGTERM), and `pbs-mover resume` finishes \
                  the move.\n\n\
                  Who may run what: the TUI (browsing), ls, history and verify: any user who can read the \
                  datastore. move-group, move-ns, resume and undo (their --dry-run too): root or user \
                  'backup' only, since they create lock files and directories owned by backup:backup as PBS \
                  does; anyone else is refused (exit 1) before anything is touched. demo: anyone (its lock \
                  and state dirs are inside its dir; as a normal user nothing is chowned).\n\n\
                  Results go to stdout (a move's summary and total, a dry run's plan, resume's actions, \
                  ls, history, verify), diagnostics to stderr (errors, warnings, progress, --wait). \
                  Progress of a move goes to stderr: one live line on a terminal (groups, snapshots, rate, \
                  ETA, the group in progress), otherwise (or with --quiet) one line per group; the final \
                  total line goes to stdout. --json prints only its one object on stdout; --json-progress streams JSON events \
                  on stdout before it.\n\n\
                  Locking: every move holds a shared fcntl lock on <datastore>/.lock (no garbage collection of \
                  any PBS version can start meanwhile; a running one makes the move exit 3), takes PBS's lock \
                  files under the lock dir, and, when the PBS on this host is older than 3.3.5 or its version \
                  is unknown (see --pbs-version), also PBS's old directory locks. It counts as a write \
                  operation of the datastore (unmount and s3-refresh wait for it)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Filesystem datastore (or the local cache dir of an S3 datastore) at DIR
    #[arg(long, global = true, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Datastore NAME from datastore.cfg in the config dir
    #[arg(long, global = true, value_name = "NAME")]
    pub store: Option<String>,
    /// PBS config dir holding datastore.cfg and s3.cfg
    #[arg(long, global = true, env = "PBS_MOVER_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Root of PBS lock files
    #[arg(
        long,
        global = true,
        env = "PBS_MOVER_LOCK_DIR",
        default_value = DEFAULT_LOCK_DIR,
        value_name = "DIR"
    )]
    pub lock_dir: PathBuf,
    /// Where pbs-mover keeps its operation journals (resume, history, undo)
    #[arg(
        long,
        global = true,
        env = "PBS_MOVER_STATE_DIR",
        default_value = DEFAULT_STATE_DIR,
        value_name = "DIR"
    )]
    pub state_dir: PathBuf,
    /// The PBS version on this host, which decides the locks a move takes: below 3.3.5, or
    /// unknown, PBS's old directory locks are taken as well as its lock files. Default: the
    /// installed proxmox-backup-server from /var/lib/dpkg/status (no record = unknown);
    /// `none` = no PBS runs on this host, `unknown` = take both schemes
    #[arg(
        long,
        global = true,
        env = "PBS_MOVER_PBS_VERSION",
        value_name = "VER|none|unknown"
    )]
    pub pbs_version: Option<String>,
    /// S3 endpoint URL for an ad-hoc S3 datastore (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)
    #[arg(long, global = true, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 bucket for an ad-hoc S3 datastore
    #[arg(long, global = true, value_name = "BUCKET")]
    pub s3_bucket: Option<String>,
    /// S3 region
    #[arg(long, global = true, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Use path-style S3 addressing
    #[arg(long, global = true)]
    pub s3_path_style: bool,
    /// Moves: more progress detail on stderr (every snapshot, group and namespace step the
    /// engine reports)
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Moves: no live progress line, even on a terminal (per-group lines and the final total,
    /// as when stderr is not a terminal)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Moves (move-group, move-ns, resume, undo): stream progress to stdout as JSON Lines, one
    /// event object per line ({"event":"planned"|"group_started"|"snapshot_moved"|...}), the
    /// last event "finished"; then the command's --json result object as the final line
    #[arg(long, global = true)]
    pub json_progress: bool,
    /// TUI: no mouse (clicks and the wheel are not captured, the terminal's own text
    /// selection works); the keymap's `[options] mouse = false` does the same for good
    #[arg(long, global = true)]
    pub no_mouse: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the TUI (the default)
    Tui,
    /// Create a realistic demo datastore and open the TUI on it (any user)
    Demo(DemoArgs),
    /// List namespaces and groups (and snapshots)
    Ls(LsArgs),
    /// Move backup groups (one, several, or a pattern) to another namespace (root or user backup)
    MoveGroup(MoveGroupArgs),
    /// Move a namespace (with its groups and children) to a new path (root or user backup)
    MoveNs(MoveNsArgs),
    /// Finish or roll back moves that were interrupted (crash, kill -9, power loss; root or
    /// user backup)
    Resume(ResumeArgs),
    /// List finished and unfinished moves from the operation journal
    History(JsonArgs),
    /// Reverse a finished move (a new move in the opposite direction, same checks; root or
    /// user backup)
    Undo(UndoArgs),
    /// Check a datastore for what an interrupted move can leave (a snapshot in two places,
    /// missing or invalid owner files, empty groups, lock-file residue, GC journal ghosts,
    /// unfinished moves; S3: also cache vs bucket drift); exit 1 on findings
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Create the datastore here instead of a temporary dir (must be empty or absent)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Number of backup groups
    #[arg(long, default_value_t = 40, value_name = "N")]
    pub groups: usize,
    /// Serve the demo datastore from an embedded S3 server
    #[arg(long)]
    pub s3: bool,
    /// Only create the datastore; print its path
    #[arg(long)]
    pub no_tui: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Namespace to list (default: root)
    #[arg(
        long,
        default_value = "",
        value_name = "NS",
        allow_hyphen_values = true
    )]
    pub ns: String,
    /// Include all namespaces below NS
    #[arg(long)]
    pub recursive: bool,
    /// Include snapshots
    #[arg(long)]
    pub snapshots: bool,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MoveGroupArgs {
    /// Source namespace
    #[arg(
        long,
        default_value = "",
        value_name = "SRC",
        allow_hyphen_values = true
    )]
    pub ns: String,
    /// The group, TYPE/ID (e.g. vm/100); repeat it for several, or give a shell-style
    /// pattern ('vm/1*', 'ct/10?', 'vm/[12]*'; never across the '/') matched within --ns.
    /// Several groups move as one operation: per-group results, exit 4 when some fail.
    #[arg(
        long,
        value_name = "TYPE/ID",
        required = true,
        allow_hyphen_values = true
    )]
    pub group: Vec<String>,
    /// Target namespace (must exist)
    #[arg(long, value_name = "DST", allow_hyphen_values = true)]
    pub target_ns: String,
    /// Refuse instead of merging into an existing target group
    #[arg(long)]
    pub no_merge: bool,
    /// Show what would happen; change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MoveNsArgs {
    /// Source namespace
    #[arg(long, value_name = "SRC", allow_hyphen_values = true)]
    pub ns: String,
    /// The new path of the source namespace (like mv); its parent must exist
    #[arg(long, value_name = "DST", allow_hyphen_values = true)]
    pub target_ns: String,
    /// Levels of child namespaces to include (0 = only the namespace's own groups)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_depth: Option<usize>,
    /// Keep the emptied source namespaces
    #[arg(long)]
    pub keep_source: bool,
    /// Refuse instead of merging into existing target groups
    #[arg(long)]
    pub no_merge: bool,
    /// Show what would happen; change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

/// `--wait[=SECS]` of the commands that take locks.
#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// When a lock is busy (another move, a backup or verify, a running GC: everything that
    /// exits 3), wait for it instead: bare --wait without a time limit (Ctrl-C ends the
    /// wait, nothing changed), --wait=SECS at most SECS seconds, then exit 3 as without it.
    /// Nothing is changed while waiting; stderr says what it waits for
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true)]
    pub wait: Option<Option<u64>>,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Show what resume would do to each unfinished move (finish or roll back each group
    /// caught in flight, then move what is left); change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The move to undo (an ID from `history`)
    #[arg(
        value_name = "ID",
        conflicts_with = "last",
        required_unless_present = "last"
    )]
    pub id: Option<String>,
    /// Undo the newest finished move
    #[arg(long)]
    pub last: bool,
    /// Show what would happen; change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}
