//! The `qjit` command: run a query on a Parquet file, or generate TPC-H data.
//!
//! Exit status: 0 on success, 1 for an error in the query, the data or a failed write, 2 for bad
//! usage, 130 when interrupted by Ctrl-C, 141 when standard output's reader has gone (`| head`).
//! Results stream to stdout as the query produces them (an error found before the first row
//! leaves stdout empty; one found after leaves the rows written so far), or to `--output FILE`,
//! which appears only when complete. Errors go to stderr as one message.
//!
//! `qjit query` parses its arguments, sets up the output, the progress bar and `--timing`, and
//! leaves the query to `qjit::internals::query`: where it runs (qjit's own engine or
//! DataFusion, in this process or on a cluster), planned once, then explained or run.
//!
//! The command runs on a thread of its own; the main thread waits for it. Ctrl-C raises the
//! [`Cancel`] flag the command checks between batches, and the main thread reports the
//! interruption once it stops (or [`INTERRUPT_GRACE`] later if it does not).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use qjit::exec::{self, Cancel, CsvOptions, EngineKind, Progress, QueryOptions, TierSwitch};
use qjit::internals::kernel_cache::KernelCache;
use qjit::internals::output::{self, Destination, OutputFormat, ResultWriter};
use qjit::internals::query::{self, Placement, Ran};
use qjit::{Error, Result};

/// mimalloc: decoding Parquet allocates and frees many buffers of a few hundred KiB per batch,
/// which glibc's allocator maps and unmaps each time (page faults cost up to half of a scan).
/// Behind the default `mimalloc` feature: without it the system allocator serves the heap, which
/// AddressSanitizer and Valgrind can check.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stack for the thread that runs a query: expressions are evaluated recursively, and the binder
/// bounds their depth (`qjit::internals::sql::MAX_EXPR_DEPTH`) well inside this.
const QUERY_STACK_BYTES: usize = 64 << 20;

/// How long after Ctrl-C the command may take to stop on its own (it checks between batches)
/// before `qjit` exits without waiting for it.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// The exit status of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

/// Whether the command has written anything to stdout (set by the query's result writer).
static WROTE_STDOUT: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// How long a query runs before it shows a progress bar.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// A query's progress bar on stderr (a terminal), drawn by the main thread while the query
/// runs, and put away for good once the query writes to a terminal stdout.
#[derive(Clone, Default)]
struct QueryBar(Arc<std::sync::Mutex<BarState>>);

#[derive(Default)]
struct BarState {
    bar: Option<indicatif::ProgressBar>,
    /// Set once it must not be drawn again.
    done: bool,
}

impl QueryBar {
    /// Draws `progress` (morsels done of the total).
    fn update(&self, progress: &Progress) {
        let Ok(mut state) = self.0.lock() else {
            return;
        };
        let total = progress.total() as u64;
        if state.done || total == 0 {
            return;
        }
        let bar = state.bar.get_or_insert_with(|| {
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} row groups, {elapsed}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr(),
            )
            .with_style(style)
        });
        bar.set_length(total);
        bar.set_position(progress.done() as u64);
    }

    /// Clears the bar and keeps it from being drawn again.
    fn clear(&self) {
        if let Ok(mut state) = self.0.lock() {
            state.done = true;
            if let Some(bar) = state.bar.take() {
                bar.finish_and_clear();
            }
        }
    }
}

#[derive(Parser)]
#[command(
    name = "qjit",
    version,
    about = "Compile SQL predicates and projections into native kernels over Arrow data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one SELECT over a Parquet file, a folder of tables, or a glob. qjit's own engine runs
    /// a query over one table of one file; DataFusion, with qjit's kernels inside, runs the rest.
    Query {
        /// A Parquet file (`data/lineitem.parquet` is table `lineitem`); a folder of
        /// `NAME.parquet` files and `NAME/` folders of Parquet files (a table each, named NAME;
        /// hive-style `key=value/` folders become columns); or a quoted glob such as
        /// 'data/orders/*.parquet' (one table, named after the folder it starts in).
        file: PathBuf,
        /// The SQL query, whatever it starts with (a `--` comment too); `-` reads it from
        /// standard input.
        #[arg(allow_hyphen_values = true, required_unless_present = "sql_file")]
        sql: Option<String>,
        /// Read the SQL query from this file instead.
        #[arg(long, value_name = "PATH", conflicts_with = "sql")]
        sql_file: Option<PathBuf>,
        /// Which engine runs the query.
        #[arg(long, value_enum, default_value_t = EngineKind::Auto)]
        engine: EngineKind,
        /// Worker threads (default: all cores).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// Output format (default: from --output's extension, else table).
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// Write the result to FILE instead of stdout: under a temporary name beside it, renamed
        /// onto it when complete (an existing FILE is replaced), removed on an error or Ctrl-C.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print the time of each phase on stderr.
        #[arg(long)]
        timing: bool,
        /// Print the typed plan, how it would run, and the LLVM IR of compiled kernels, instead
        /// of running it; `--explain=plan` leaves the IR out.
        #[arg(
            long,
            value_enum,
            num_args = 0..=1,
            require_equals = true,
            default_missing_value = "full",
            value_name = "full|plan"
        )]
        explain: Option<ExplainMode>,
        /// Optimize kernels with LLVM's `default<On>` pipeline (0–3) instead of qjit's kernel
        /// pipeline, to compare.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=3))]
        opt_level: Option<u8>,
        /// Read every row group and page, even those whose statistics rule the WHERE clause out
        /// (no filter pushdown), to compare.
        #[arg(long)]
        no_pushdown: bool,
        /// Whether a CSV file's first line names its columns (else they are column_1, …).
        #[arg(long, value_name = "true|false", default_value_t = true, action = clap::ArgAction::Set)]
        csv_header: bool,
        /// A CSV file's field delimiter, one ASCII character or `tab` (default: a tab for .tsv
        /// files, else a comma).
        #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
        csv_delimiter: Option<u8>,
        /// The session time zone: an IANA name (`Europe/Berlin`), `UTC` or an offset
        /// (`+05:30`). `TIMESTAMP WITH TIME ZONE` values print in it, and their fields, dates,
        /// truncation and calendar arithmetic are its local time's (default: the `TZ`
        /// environment variable, else UTC).
        #[arg(long, value_name = "ZONE", value_parser = parse_timezone)]
        timezone: Option<qjit::ir::time::Zone>,
        /// Memory the GROUP BY state (or the rows collected for ORDER BY and output) may take,
        /// over all threads: 512MiB, 2GB, 1.5GiB, a number of bytes, or `unlimited` (default:
        /// 80% of the available memory).
        #[arg(long, value_name = "SIZE", value_parser = exec::parse_memory_size)]
        memory_limit: Option<usize>,
        /// For tests: when `--engine auto` switches from the interpreter to the compiled
        /// kernels: `ready` (as soon as they are), `never`, or before batch N (waiting for them).
        #[arg(long, hide = true, default_value = "ready", value_parser = parse_tier_switch)]
        tier_switch: TierSwitch,
        /// The kernel cache directory (default: $QJIT_CACHE_DIR, else $XDG_CACHE_HOME/qjit,
        /// else ~/.cache/qjit).
        #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
        cache_dir: Option<PathBuf>,
        /// Compile every kernel in this process: neither load kernels from the cache on disk
        /// nor store them there.
        #[arg(long)]
        no_cache: bool,
        /// Run the query in DataFusion (with qjit's kernels inside unless --engine interp) even
        /// where qjit's own engine would run it, to compare.
        #[cfg(feature = "datafusion")]
        #[arg(long)]
        datafusion: bool,
        /// Run the query on a Ballista cluster: `df://HOST:PORT` (its scheduler; the files must
        /// be readable at the same path on every executor), or `standalone` (a scheduler and two
        /// executors inside this process).
        #[cfg(feature = "ballista")]
        #[arg(long, value_name = "URL")]
        cluster: Option<String>,
    },
    /// Run a Ballista scheduler whose plans carry qjit's kernels to the executors, until Ctrl-C.
    #[cfg(feature = "ballista")]
    Scheduler {
        /// The address it listens on.
        #[arg(long, value_name = "HOST:PORT", default_value = qjit::ballista::DEFAULT_SCHEDULER)]
        bind: String,
        /// Seconds without a heartbeat after which an executor is taken for dead and its tasks
        /// run elsewhere (at least 5; executors beat every 2 s).
        #[arg(long, value_name = "SECS", default_value_t = qjit::ballista::EXECUTOR_TIMEOUT.as_secs())]
        executor_timeout: u64,
    },
    /// Run a Ballista executor that compiles the qjit kernels of its tasks, until Ctrl-C.
    #[cfg(feature = "ballista")]
    Executor {
        /// The scheduler's address.
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// The address its Arrow Flight service listens on.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
        bind: String,
        /// Its gRPC port (default: the Flight port + 1).
        #[arg(long, value_name = "PORT")]
        grpc_port: Option<u16>,
        /// The host name other machines reach it by (default: the --bind address).
        #[arg(long, value_name = "HOST")]
        advertise: Option<String>,
        /// Tasks it runs at once (default: its cores).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: Option<u16>,
        /// How its kernels run: `auto` (DataFusion evaluates the first batches while they
        /// compile) or `jit` (each task waits for them).
        #[arg(long, value_enum, default_value_t = EngineKind::Auto)]
        engine: EngineKind,
        /// The kernel cache directory (default as for `qjit query`).
        #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
        cache_dir: Option<PathBuf>,
        /// Compile every kernel in this process.
        #[arg(long)]
        no_cache: bool,
    },
    /// Run a suite of TPC-H queries on each engine over tables in memory and report compile and
    /// execution times, checking every answer (generates and caches the data on first use).
    Bench {
        /// The queries: `lineitem`, the single-table queries over `lineitem` on qjit's own
        /// engines; `tpch`, the 22 TPC-H queries over the eight tables on DataFusion with and
        /// without qjit's kernels.
        #[arg(long, value_enum, default_value_t = qjit::internals::bench::Suite::Lineitem)]
        suite: qjit::internals::bench::Suite,
        /// Scale factor of the generated data.
        #[arg(long, default_value_t = 1.0)]
        sf: f64,
        /// Directory of `*.sql` queries [default: `queries`, or `queries/tpch` for the tpch
        /// suite].
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Engines to compare, comma-separated [default: `jit,interp`, or
        /// `datafusion,datafusion+qjit,duckdb` for the tpch suite].
        #[arg(long, value_enum, value_delimiter = ',')]
        engines: Option<Vec<qjit::internals::bench::Engine>>,
        /// Worker threads for every engine (default: all cores).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// Timed executions per query and engine (median and minimum are reported).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        iterations: u32,
        /// Where generated data is cached.
        #[arg(long, default_value = "target/tpch")]
        data_dir: PathBuf,
        /// A Parquet file to run the lineitem suite's queries over instead of the generated
        /// `lineitem` (its table is named after the file; --sf is then only a label).
        #[arg(long, value_name = "FILE", conflicts_with = "suite")]
        data: Option<PathBuf>,
        /// Reference answers (`<query>.csv`); default: tests/reference/sf<N> (tpch-sf<N> for
        /// the tpch suite) if it exists.
        #[arg(long)]
        references: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = BenchFormat::Table)]
        format: BenchFormat,
        /// Memory each query's GROUP BY state may take, as for `qjit query`.
        #[arg(long, value_name = "SIZE", value_parser = exec::parse_memory_size)]
        memory_limit: Option<usize>,
        /// The kernel cache directory, for the `load_ms` column (compile_ms is always a cold
        /// compile); default as for `qjit query`.
        #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
        cache_dir: Option<PathBuf>,
        /// Measure no cache loads (`load_ms` is left empty).
        #[arg(long)]
        no_cache: bool,
    },
    /// Show the tables of a Parquet file, folder or glob: each column's name, SQL type, Arrow
    /// type and nullability, and each table's rows, row groups and files (from the footers; no
    /// data is read). `qjit query PATH "DESCRIBE table"` shows one table.
    Schema {
        /// A Parquet file, a folder of tables or a glob, as `qjit query` takes it.
        path: PathBuf,
        /// Output format (default: from --output's extension, else table).
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// Write it to FILE instead of stdout (as `qjit query --output` does).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Show or empty the kernel cache on disk, where compiled kernels are kept for the next
    /// process.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
        /// The kernel cache directory (default: $QJIT_CACHE_DIR, else $XDG_CACHE_HOME/qjit,
        /// else ~/.cache/qjit).
        #[arg(long, value_name = "DIR", global = true)]
        cache_dir: Option<PathBuf>,
    },
    /// Generate TPC-H tables as Parquet files.
    GenTpch {
        /// Scale factor (1 = about 6 million lineitem rows).
        #[arg(long)]
        sf: f64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// The tables to generate, comma-separated (default: all eight).
        #[arg(long, value_delimiter = ',')]
        tables: Vec<String>,
    },
}

/// What `qjit cache` does.
/// How much `--explain` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ExplainMode {
    /// The plan, how it runs, and the kernels' LLVM IR.
    Full,
    /// The plan and how it runs, without the IR.
    Plan,
}

#[derive(Subcommand, Debug)]
enum CacheAction {
    /// Print the cache's location, its entries and their bytes.
    Info,
    /// Remove every entry.
    Clear,
}

/// `--timing`: the time of each phase of the query that ran, on stderr.
fn report_timing(options: &QueryOptions, ran: &Ran) {
    match ran {
        Ran::Qjit(result) => report_qjit_timing(options, result),
        Ran::Describe(rows) => {
            eprintln!("timing: a description of {rows} columns, from the files' footers")
        }
        #[cfg(feature = "datafusion")]
        Ran::DataFusion(run) => {
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            eprintln!(
                "timing: DataFusion ({}): plan {:.3} ms, execute {:.3} ms, {} rows",
                match options.engine {
                    EngineKind::Interp => "its own expressions",
                    _ => "with qjit kernels",
                },
                ms(run.plan),
                ms(run.execute),
                run.rows
            );
        }
    }
}

/// `--timing` of a query qjit's own engine ran.
fn report_qjit_timing(options: &QueryOptions, result: &exec::QueryRun) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let t = &result.timing;
    let kernel = match t.kernel_cache_hit {
        None => "no kernel".to_string(),
        Some(true) => "kernel from cache".to_string(),
        Some(false) => format!(
            "codegen {:.3} ms, optimize {:.3} ms, machine code {:.3} ms",
            ms(t.compile.codegen),
            ms(t.compile.optimize),
            ms(t.compile.machine_code)
        ),
    };
    eprintln!(
        "timing: parse+bind {:.3} ms, {kernel}, execute {:.3} ms, output {:.3} ms, engine {:?}, {}, {} rows",
        ms(t.parse_bind),
        ms(t.execute),
        ms(t.output),
        result.engine,
        result.compiled.summary(),
        result.rows
    );
    if let Some(tiers) = &result.tiers {
        eprintln!("timing: {}", tiers.summary());
    }
    if let Some(line) = result.compiled.disk_summary() {
        eprintln!("timing: kernel cache: {line}");
    }
    if let Some(problem) = options.kernel_cache.as_ref().and_then(|c| c.problem()) {
        eprintln!("timing: kernel cache: {problem}; kernels were not stored");
    }
}

/// The kernel cache a command uses: `--cache-dir`, else the user's default; none with
/// `--no-cache`, or when no default directory can be named (no `$HOME`).
fn kernel_cache(cache_dir: Option<PathBuf>, no_cache: bool) -> Option<Arc<KernelCache>> {
    if no_cache {
        return None;
    }
    cache_dir
        .or_else(KernelCache::default_dir)
        .map(|dir| Arc::new(KernelCache::new(dir)))
}

/// How `qjit bench` prints.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum BenchFormat {
    Table,
    /// One JSON object per line.
    Json,
}

/// Whether the process started with standard output closed, checked by [`CHECK_STDOUT`].
static STARTED_WITHOUT_STDOUT: AtomicBool = AtomicBool::new(false);

/// Runs before Rust's runtime, which would open `/dev/null` onto a closed standard output and
/// hide that writes go nowhere (see `qjit::internals::output::dest::set_stdout_closed`).
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static CHECK_STDOUT: extern "C" fn() = {
    extern "C" fn check() {
        if output::dest::stdout_is_closed() {
            STARTED_WITHOUT_STDOUT.store(true, Ordering::Relaxed);
        }
    }
    check
};

/// Turns transparent huge pages off for this process, before its first allocation. With THP set
/// to `always` (as on many distributions), the kernel backs the allocator's arenas with 2 MiB
/// pages and zeroes each whole page at its first touch: a fifth of a small query's process
/// time, and SF1 TPC-H Q1 from Parquet ran 14% slower with them (122 vs 143 ms, medians of 9
/// interleaved runs); no `qjit query` measured was faster with them. `qjit bench`, which keeps
/// its data in memory and scans it again and again, turns them back on ([`huge_pages_for`]).
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static NO_HUGE_PAGES: extern "C" fn() = {
    extern "C" fn disable() {
        // SAFETY: PR_SET_THP_DISABLE takes an integer flag and touches no memory of ours; a
        // kernel without it returns an error, which changes nothing.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
    disable
};

/// The SQL of `qjit query`: the argument, standard input for `-`, or the `--sql-file`.
fn query_text(sql: Option<String>, file: Option<&Path>) -> Result<String> {
    let text = match (sql, file) {
        (Some(sql), _) if sql == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text).map_err(
                |e| Error::Usage(format!("cannot read the SQL from standard input: {e}")),
            )?;
            text
        }
        (Some(sql), _) => sql,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            Error::Usage(format!("cannot read the SQL file {}: {e}", path.display()))
        })?,
        (None, None) => {
            return Err(Error::Usage(
                "no SQL: give the query after the path, - to read it from standard input, or \
                 --sql-file PATH"
                    .into(),
            ))
        }
    };
    Ok(text)
}

/// What `qjit --version` prints: qjit's version and those of the libraries that decide its
/// answers and its kernels.
fn version_text() -> String {
    let llvm = match qjit::internals::jit::llvm_version() {
        Some(v) => format!("LLVM {v}"),
        None => "built without LLVM (the jit feature): every query is interpreted".into(),
    };
    #[cfg(feature = "datafusion")]
    let datafusion = format!("\nDataFusion {}", datafusion::DATAFUSION_VERSION);
    #[cfg(not(feature = "datafusion"))]
    let datafusion = "";
    format!(
        "qjit {}\n{llvm}\narrow {}{datafusion}",
        env!("CARGO_PKG_VERSION"),
        arrow::ARROW_VERSION
    )
}

fn main() -> ExitCode {
    if STARTED_WITHOUT_STDOUT.load(Ordering::Relaxed) {
        output::dest::set_stdout_closed();
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if matches!(
        args.get(1).and_then(|a| a.to_str()),
        Some("--version" | "-V")
    ) {
        println!("{}", version_text());
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse_from(args);
    huge_pages_for(&cli.command);
    // What an interruption leaves, and whether the command streams rows to stdout.
    let (what, streams_rows) = match cli.command {
        Command::Query {
            output: Some(_), ..
        } => (
            "the query was stopped before it finished; no output file was written",
            false,
        ),
        Command::Query { .. } => ("the query was stopped before it finished", true),
        Command::Bench { .. } => (
            "the benchmark was stopped before it finished; nothing was printed",
            false,
        ),
        Command::GenTpch { .. } => (
            "generation was stopped; no partial table file was left behind",
            false,
        ),
        Command::Cache { .. } => ("the cache command was stopped", false),
        Command::Schema { .. } => ("the schema command was stopped", false),
        #[cfg(feature = "ballista")]
        Command::Scheduler { .. } => ("the scheduler stopped", false),
        #[cfg(feature = "ballista")]
        Command::Executor { .. } => ("the executor stopped", false),
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    // Ctrl-C raises the flag the command checks between batches; a second Ctrl-C (the flag
    // already raised) exits at once. Without the handlers (they fail only on a broken platform)
    // Ctrl-C still ends the process, as it would by default.
    let _ = signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        i32::from(INTERRUPTED),
        interrupted.clone(),
    )
    .and_then(|_| signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone()));
    let cancel = Cancel::from_flag(interrupted.clone());
    // A query longer than PROGRESS_AFTER shows a progress bar when stderr is a terminal.
    let progress = Progress::new();
    let bar = QueryBar::default();
    let show_progress =
        matches!(cli.command, Command::Query { .. }) && std::io::stderr().is_terminal();
    let started = Instant::now();
    let (run_progress, run_bar) = (progress.clone(), bar.clone());
    let (sender, receiver) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("qjit-main".into())
        .stack_size(QUERY_STACK_BYTES)
        .spawn(move || {
            // A panic is caught here so that it is reported like any other error.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(cli, cancel, run_progress, run_bar)
            }))
            .unwrap_or_else(|_| Err(Error::internal("the query thread panicked")));
            let _ = sender.send(outcome);
        });
    if let Err(e) = spawned {
        eprintln!("error: cannot start the query thread: {e}");
        return ExitCode::from(1);
    }
    let mut interrupted_at: Option<Instant> = None;
    let outcome = loop {
        match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(outcome) => break outcome,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(Error::internal("the query thread ended without an answer"))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if show_progress && started.elapsed() >= PROGRESS_AFTER {
            bar.update(&progress);
        }
        if interrupted.load(Ordering::Relaxed) {
            let since = *interrupted_at.get_or_insert_with(Instant::now);
            if since.elapsed() >= INTERRUPT_GRACE {
                break Err(Error::Cancelled);
            }
        }
    };
    bar.clear();
    // Whatever the command returned once Ctrl-C was pressed (an error from a child process it
    // interrupted too, say), the run was interrupted and prints no more.
    if interrupted.load(Ordering::Relaxed) {
        output::dest::remove_unfinished();
        let wrote = WROTE_STDOUT
            .get()
            .is_some_and(|w| w.load(Ordering::Relaxed));
        let printed = match (streams_rows, wrote) {
            (true, true) => "; the rows printed before it are complete, the rest were not printed",
            (true, false) => "; nothing was printed",
            (false, _) => "",
        };
        eprintln!("interrupted (Ctrl-C): {what}{printed}");
        exit_now_if_compiling(INTERRUPTED);
        return ExitCode::from(INTERRUPTED);
    }
    let outcome = outcome.and_then(|text| {
        // What the command returns is printed here; a query has printed its result already.
        let mut out = Destination::stdout();
        out.write_all(text.as_bytes())
            .map_err(|e| out.error(e))
            .and_then(|_| out.commit())
    });
    let status = match outcome {
        Ok(()) => 0,
        // Stdout's reader has gone: stop quietly, as a process killed by SIGPIPE.
        Err(e @ Error::OutputClosed) => u8::try_from(e.exit_code()).unwrap_or(1),
        Err(e) => {
            eprintln!("error: {}", e.command_line_message());
            u8::try_from(e.exit_code()).unwrap_or(1)
        }
    };
    exit_now_if_compiling(status);
    ExitCode::from(status)
}

/// Transparent huge pages as the system sets them for `qjit bench` (see [`NO_HUGE_PAGES`]):
/// its in-memory scans ran 8% faster with them (SF1 Q6 on one thread: 10.8–11.6 ms against
/// 11.9–12.8), as does the bandwidth it measures for the floor, and DuckDB, which it starts as a
/// child process, runs as it would on its own.
fn huge_pages_for(command: &Command) {
    #[cfg(target_os = "linux")]
    if matches!(command, Command::Bench { .. }) {
        // SAFETY: as in `NO_HUGE_PAGES`: an integer flag, no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0) };
    }
}

/// Ends the process at once with `status`, without running LLVM's global destructors, when a
/// kernel compile the query no longer needed is still running on another thread (they would
/// tear LLVM down under it). Everything written is already out: stdout is written unbuffered
/// through its descriptor, and stderr is unbuffered.
fn exit_now_if_compiling(status: u8) {
    #[cfg(unix)]
    if exec::compiles_in_flight() > 0 {
        let _ = std::io::stderr().flush();
        // SAFETY: _exit ends the process; nothing after it runs.
        unsafe { libc::_exit(i32::from(status)) };
    }
}

/// A CSV delimiter: one ASCII character other than a quote or a line break, or `tab`.
/// A `--timezone` value.
fn parse_timezone(s: &str) -> std::result::Result<qjit::ir::time::Zone, String> {
    qjit::ir::time::Zone::parse(s).ok_or_else(|| {
        format!(
            "unknown time zone '{s}': use an IANA name (Europe/Berlin), UTC or an offset (+05:30)"
        )
    })
}

/// The session zone the `TZ` environment variable names (UTC when it is unset or empty): a
/// zone name, or a file of the zone database (`:/etc/localtime`, a link into `zoneinfo/`);
/// an unknown one is a usage error that says where it came from.
fn zone_from_env() -> Result<qjit::ir::time::Zone> {
    match std::env::var("TZ") {
        Ok(tz) if !tz.trim().is_empty() => {
            let name = tz.trim().trim_start_matches(':');
            let linked = name
                .starts_with('/')
                .then(|| std::fs::canonicalize(name).ok())
                .flatten()
                .and_then(|p| {
                    p.to_str()
                        .and_then(|s| s.split("zoneinfo/").nth(1).map(str::to_string))
                });
            qjit::ir::time::Zone::parse(linked.as_deref().unwrap_or(name)).ok_or_else(|| {
                Error::Usage(format!(
                    "the TZ environment variable names an unknown time zone '{tz}'; set it to an \
                 IANA name (Europe/Berlin) or UTC, or pass --timezone"
                ))
            })
        }
        _ => Ok(qjit::ir::time::Zone::Utc),
    }
}

fn parse_delimiter(text: &str) -> std::result::Result<u8, String> {
    match text {
        "tab" | "\\t" => Ok(b'\t'),
        _ => match text.as_bytes() {
            [c] if c.is_ascii() && !matches!(c, b'"' | b'\n' | b'\r') => Ok(*c),
            _ => Err(format!(
                "'{text}' is not a delimiter: give one ASCII character (such as ';' or '|') or `tab`"
            )),
        },
    }
}

/// `--tier-switch`: `ready`, `never`, or a batch number.
fn parse_tier_switch(text: &str) -> std::result::Result<TierSwitch, String> {
    match text {
        "ready" => Ok(TierSwitch::WhenReady),
        "never" => Ok(TierSwitch::Never),
        n => n
            .parse()
            .map(TierSwitch::AtBatch)
            .map_err(|_| format!("'{n}' is not ready, never or a batch number")),
    }
}

/// Runs `query` into `output` (stdout if `None`) in `format`; how it ran.
fn write_result(
    query: query::Planned,
    output: Option<&Path>,
    format: OutputFormat,
    bar: QueryBar,
) -> Result<Ran> {
    let dest = match output {
        Some(path) => Destination::file(path)?,
        None => Destination::stdout(),
    };
    // A table on a terminal is cut to its width.
    let width = match (output, std::io::stdout().is_terminal()) {
        (None, true) => console::Term::stdout()
            .size_checked()
            .map(|(_, columns)| usize::from(columns)),
        _ => None,
    };
    let mut writer = ResultWriter::new(dest, format)?
        .with_table_width(width)
        .with_timezone(query.timezone());
    if output.is_none() && std::io::stdout().is_terminal() {
        // Rows on the terminal put the progress bar away, so that they do not mix.
        writer = writer.before_first_write(Box::new(move || bar.clear()));
    }
    if output.is_none() {
        let _ = WROTE_STDOUT.set(writer.written_flag());
    }
    query.run_into(&mut writer)
}

/// The format of a query's result: `--format`, else the one `--output`'s extension names, else a
/// table. Parquet only goes to a file.
fn output_format(format: Option<OutputFormat>, output: Option<&Path>) -> Result<OutputFormat> {
    match (format, output) {
        (Some(OutputFormat::Parquet), None) => Err(Error::Usage(
            "--format parquet writes a file: give it with --output FILE".into(),
        )),
        (Some(format), _) => Ok(format),
        (None, None) => Ok(OutputFormat::Table),
        (None, Some(path)) => OutputFormat::from_extension(path).ok_or_else(|| {
            Error::Usage(format!(
                "--output {}: cannot tell the format from the file's extension; name it .csv, .json or .parquet, or give --format",
                path.display()
            ))
        }),
    }
}

/// Refuses an output file that is the query's input (writing it would destroy the input).
fn check_output_is_not_input(output: &Path, input: &Path) -> Result<()> {
    let same = match (std::fs::metadata(output), std::fs::metadata(input)) {
        #[cfg(unix)]
        (Ok(a), Ok(b)) => {
            use std::os::unix::fs::MetadataExt;
            a.dev() == b.dev() && a.ino() == b.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => std::fs::canonicalize(output).ok() == std::fs::canonicalize(input).ok(),
        _ => false,
    };
    match same {
        true => Err(Error::Usage(format!(
            "--output {} is the query's input; write the result to another file",
            output.display()
        ))),
        false => Ok(()),
    }
}

/// Runs a command and returns what is left to print on stdout (a query prints its result as it
/// runs).
fn run(cli: Cli, cancel: Cancel, progress: Progress, bar: QueryBar) -> Result<String> {
    match cli.command {
        Command::Query {
            file,
            sql,
            sql_file,
            engine,
            threads,
            format,
            output,
            timing,
            explain,
            opt_level,
            no_pushdown,
            csv_header,
            csv_delimiter,
            timezone,
            memory_limit,
            tier_switch,
            cache_dir,
            no_cache,
            #[cfg(feature = "datafusion")]
            datafusion,
            #[cfg(feature = "ballista")]
            cluster,
        } => {
            let sql = query_text(sql, sql_file.as_deref())?;
            if engine == EngineKind::Jit && explain.is_none() {
                // The kernels load while the query is parsed and the file's metadata read.
                qjit::internals::jit::prepare_loader();
            }
            let options = QueryOptions {
                engine,
                threads: threads.map(usize::from),
                opt_level,
                pushdown: !no_pushdown,
                cancel,
                memory_limit,
                progress,
                // `auto` starts interpreted while its kernels compile.
                tiers: tier_switch,
                kernel_cache: kernel_cache(cache_dir, no_cache),
                csv: CsvOptions {
                    header: csv_header,
                    delimiter: csv_delimiter,
                },
                timezone: match timezone {
                    Some(zone) => zone,
                    None => zone_from_env()?,
                },
            };
            let format = output_format(format, output.as_deref())?;
            if let Some(path) = &output {
                check_output_is_not_input(path, &file)?;
            }
            let placement = Placement::Auto;
            #[cfg(feature = "datafusion")]
            let placement = match datafusion {
                true => Placement::DataFusion,
                false => placement,
            };
            // A cluster runs every query in DataFusion.
            #[cfg(feature = "ballista")]
            let placement = match cluster {
                Some(cluster) => Placement::Cluster(cluster),
                None => placement,
            };
            if let Some(mode) = explain {
                let ir = mode == ExplainMode::Full;
                return query::explain(&file, &sql, &options, &placement, ir);
            }
            let query = query::plan(&file, &sql, &options, &placement)?;
            let ran = write_result(query, output.as_deref(), format, bar)?;
            if timing {
                report_timing(&options, &ran);
            }
            Ok(String::new())
        }
        Command::Schema {
            path,
            format,
            output,
        } => {
            let format = output_format(format, output.as_deref())?;
            if let Some(out) = &output {
                check_output_is_not_input(out, &path)?;
            }
            let options = QueryOptions {
                cancel,
                ..QueryOptions::default()
            };
            write_result(
                query::describe(&path, &options)?,
                output.as_deref(),
                format,
                bar,
            )?;
            Ok(String::new())
        }
        Command::Bench {
            suite,
            sf,
            queries,
            engines,
            threads,
            iterations,
            data_dir,
            data,
            references,
            format,
            memory_limit,
            cache_dir,
            no_cache,
        } => {
            let references = references.or_else(|| {
                let dir = suite.reference_dir(sf);
                (data.is_none() && dir.is_dir()).then_some(dir)
            });
            let rows = qjit::internals::bench::run(&qjit::internals::bench::BenchOptions {
                suite,
                sf,
                queries: queries.unwrap_or_else(|| suite.default_queries()),
                engines: engines.unwrap_or_else(|| suite.default_engines()),
                threads: threads.map(usize::from),
                iterations: iterations as usize,
                data_dir,
                data,
                references,
                progress: true,
                cancel,
                memory_limit,
                kernel_cache: kernel_cache(cache_dir, no_cache),
            })?;
            Ok(match format {
                BenchFormat::Table => qjit::internals::bench::render_table(&rows),
                BenchFormat::Json => rows.iter().map(|m| m.to_json() + "\n").collect(),
            })
        }
        Command::Cache { action, cache_dir } => {
            let Some(cache) = kernel_cache(cache_dir, false) else {
                return Err(Error::Usage(
                    "no kernel cache directory: neither $QJIT_CACHE_DIR, $XDG_CACHE_HOME nor \
                     $HOME is set; pass --cache-dir DIR"
                        .into(),
                ));
            };
            match action {
                CacheAction::Info => {
                    let info = cache.info()?;
                    Ok(format!(
                        "location: {}\nentries: {}\nbytes: {}\n",
                        cache.dir().display(),
                        info.entries,
                        info.bytes
                    ))
                }
                CacheAction::Clear => {
                    let removed = cache.clear()?;
                    Ok(format!(
                        "removed {removed} entries from {}\n",
                        cache.dir().display()
                    ))
                }
            }
        }
        #[cfg(feature = "ballista")]
        Command::Scheduler {
            bind,
            executor_timeout,
        } => {
            let bind = qjit::ballista::socket_address(&bind, "--bind")?;
            let executor_timeout = std::time::Duration::from_secs(executor_timeout);
            qjit::ballista::log_to_stderr();
            let options = QueryOptions {
                cancel,
                ..QueryOptions::default()
            };
            qjit::ballista::serve(&options, |options| async move {
                qjit::ballista::run_scheduler(bind, executor_timeout, &options).await
            })?;
            Ok(String::new())
        }
        #[cfg(feature = "ballista")]
        Command::Executor {
            scheduler,
            bind,
            grpc_port,
            advertise,
            concurrency,
            engine,
            cache_dir,
            no_cache,
        } => {
            let args = qjit::ballista::ExecutorArgs {
                scheduler,
                bind: qjit::ballista::socket_address(&bind, "--bind")?,
                grpc_port,
                advertise,
                concurrency: concurrency.map(usize::from),
            };
            qjit::ballista::log_to_stderr();
            let options = QueryOptions {
                engine,
                cancel,
                kernel_cache: kernel_cache(cache_dir, no_cache),
                ..QueryOptions::default()
            };
            qjit::ballista::serve(&options, |options| async move {
                qjit::ballista::run_executor(&args, &options).await
            })?;
            Ok(String::new())
        }
        Command::GenTpch {
            sf,
            out,
            force,
            tables,
        } => {
            let names: Vec<&str> = match tables.is_empty() {
                true => qjit::internals::tpch::TABLES.to_vec(),
                false => tables.iter().map(String::as_str).collect(),
            };
            let written =
                qjit::internals::tpch::generate_with(sf, &out, &names, force, true, &cancel)?;
            Ok(written
                .iter()
                .map(|p| format!("wrote {}\n", p.display()))
                .collect())
        }
    }
}
