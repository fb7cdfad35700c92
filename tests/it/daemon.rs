//! `artistbot daemon` end to end: the schedule and its time zone, the overlap guard, the
//! runner lock across real processes (SIGKILL takeover, SIGTERM mid-run), the request
//! queue, a database that goes away and comes back, and the deployed MySQL grants.
//!
//! Daemons run in process where the test needs to look inside (metrics, the queue) and
//! as real `artistbot daemon` processes where signals and process death matter. Every
//! interval is short (a schedule every second or two, a 200 ms poll) so the module stays
//! fast; waits poll the database with a deadline instead of sleeping blindly.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use artistbot::catalog::AddedVia;
use artistbot::config::cron::CronSchedule;
use artistbot::config::{DatabaseUrl, Settings};
use artistbot::daemon::Daemon;
use artistbot::daemon::health::Health;
use artistbot::daemon::metrics::Metrics;
use artistbot::daemon::runner::Runner;
use artistbot::daemon::schedule::{ScheduledRefresh, Scheduler, TickOutcome};
use artistbot::names::{ArtistRef, name_key};
use artistbot::store::lock::RunnerLock;
use artistbot::store::requests::RequestStatus;
use artistbot::store::runs::{RunRecord, RunStatus};
use artistbot::store::{PoolOptions, Store};
use artistbot::sync::SyncEngine;
use artistbot::sync::resolve::{AddOutcome, Resolver};
use chrono::{TimeZone, Utc};
use testkit::db::{Backend, TestDb};
use testkit::fake::{Provider, SpotifyMode, World};
use tokio_util::sync::CancellationToken;

use crate::support::SyncHarness;

// ---------------------------------------------------------------------------------------
// Helpers

/// `n` bands on both services with `tracks` recordings each, each related to the next
/// two (so nothing outside the catalog is related and it does not grow).
fn bands(n: u64, tracks: usize) -> (World, Vec<String>) {
    let mut world = World::new();
    let ids: Vec<String> = world.add_artists(100, "Band", 5000, n, tracks);
    for (i, id) in ids.iter().enumerate() {
        let next: Vec<&str> = (1..=2).map(|k| ids[(i + k) % ids.len()].as_str()).collect();
        world.relate(id, &next);
    }
    (world, ids)
}

/// Polls `check` every 50 ms until it holds; panics with `what` after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn runs(store: &Store) -> Vec<RunRecord> {
    store.recent_runs(100).await.expect("reading runs")
}

async fn runs_with(store: &Store, trigger: &str) -> Vec<RunRecord> {
    runs(store)
        .await
        .into_iter()
        .filter(|r| r.trigger == trigger)
        .collect()
}

fn settings_from(env: &[(String, String)], extra: &[(&str, &str)]) -> Arc<Settings> {
    let mut map: HashMap<String, String> = env.iter().cloned().collect();
    for (k, v) in extra {
        map.insert(k.to_string(), v.to_string());
    }
    Arc::new(Settings::from_map(&map).expect("daemon test settings parse"))
}

/// A daemon running inside the test process.
struct InProcessDaemon {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    metrics: Arc<Metrics>,
    health_addr: Arc<OnceLock<SocketAddr>>,
}

impl InProcessDaemon {
    fn start(settings: Arc<Settings>) -> Self {
        let daemon = Daemon::new(settings);
        let metrics = daemon.metrics();
        let health_addr = daemon.health_addr();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(daemon.run(shutdown.clone()));
        Self {
            shutdown,
            task,
            metrics,
            health_addr,
        }
    }

    fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("the daemon stops within its grace")
            .expect("the daemon task does not panic")
            .expect("the daemon ends without an error");
    }
}

/// A real `artistbot daemon` process with its log in a file.
struct DaemonProcess {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl DaemonProcess {
    fn spawn(env: &[(String, String)], extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a directory for the daemon");
        let log = dir.path().join("daemon.log");
        let out = std::fs::File::create(&log).expect("the daemon's log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_artistbot"));
        command
            .arg("daemon")
            // No stray `.env` from a parent directory.
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                "info,sqlx=warn,sea_orm=warn,tokio_cron_scheduler=warn",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().expect("log handle")))
            .stderr(Stdio::from(out));
        for (k, v) in env {
            command.env(k, v);
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("starting artistbot daemon");
        Self {
            child,
            log,
            _dir: dir,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} {}", self.pid());
    }

    async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the daemon") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit within {within:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy in front of the database that can drop every connection and refuse new
/// ones (accepting and closing them at once), then let them through again.
struct FlakyProxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl FlakyProxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (up, links) = (up.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            })
        };
        Self {
            addr,
            up,
            links,
            accept,
        }
    }

    /// The database "goes away": open connections are cut, new ones closed at once.
    fn go_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn come_back(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.go_down();
    }
}

// ---------------------------------------------------------------------------------------
// The schedule

#[test]
fn the_schedule_fires_at_03_00_seoul_which_is_18_00_utc_the_day_before() {
    let schedule = CronSchedule::new("0 0 3 * * *", chrono_tz::Asia::Seoul).unwrap();
    let noon_utc = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
    assert_eq!(
        schedule.next_after(noon_utc),
        Some(Utc.with_ymd_and_hms(2026, 3, 10, 18, 0, 0).unwrap()),
        "03:00 on 11 March in Seoul is 18:00 UTC on 10 March"
    );
    let just_after = Utc.with_ymd_and_hms(2026, 3, 10, 18, 0, 1).unwrap();
    assert_eq!(
        schedule.next_after(just_after),
        Some(Utc.with_ymd_and_hms(2026, 3, 11, 18, 0, 0).unwrap())
    );
}

db_test!(
    async fn the_cron_scheduler_arms_the_refresh_for_03_00_seoul(db: TestDb) {
        // The real wiring (tokio-cron-scheduler with the time zone) agrees with the
        // schedule's own arithmetic.
        let (world, _) = bands(1, 1);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        let runner = Arc::new(Runner::new(
            h.engine(),
            Arc::new(Metrics::default()),
            Arc::new(Health::default()),
            CancellationToken::new(),
        ));
        let refresh = Arc::new(ScheduledRefresh::new(
            runner,
            h.settings.daemon.schedule.clone(),
        ));
        let mut scheduler = Scheduler::start(refresh).await.unwrap();
        let next = scheduler
            .next_fire()
            .await
            .expect("the job has a next fire time");
        assert_eq!(
            Some(next),
            h.settings.daemon.schedule.next_after(Utc::now())
        );
        assert_eq!(next.format("%H:%M:%S").to_string(), "18:00:00");
        assert_eq!(
            next.with_timezone(&chrono_tz::Asia::Seoul)
                .format("%H:%M:%S")
                .to_string(),
            "03:00:00"
        );
        scheduler.stop().await;
    }
);

db_test!(
    async fn a_tick_while_the_refresh_is_still_running_is_skipped(db: TestDb) {
        let (world, ids) = bands(3, 2);
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SYNC_CONCURRENCY", "1")],
        )
        .await;
        h.seed(&ids.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        h.fake.set_latency(Duration::from_millis(150));
        let metrics = Arc::new(Metrics::default());
        let runner = Arc::new(Runner::new(
            h.engine(),
            metrics.clone(),
            Arc::new(Health::default()),
            CancellationToken::new(),
        ));
        let refresh = Arc::new(ScheduledRefresh::new(
            runner,
            CronSchedule::new("* * * * * *", chrono_tz::Asia::Seoul).unwrap(),
        ));

        let first = {
            let refresh = refresh.clone();
            tokio::spawn(async move { refresh.tick(Utc::now()).await })
        };
        let store = h.store.clone();
        eventually(
            Duration::from_secs(10),
            "the first refresh is running",
            || {
                let store = store.clone();
                async move {
                    runs_with(&store, "schedule")
                        .await
                        .iter()
                        .any(|r| r.status == RunStatus::Running)
                }
            },
        )
        .await;
        let second = refresh.tick(Utc::now()).await;
        let first = first.await.unwrap();

        assert_eq!(second, TickOutcome::SkippedOverlap);
        assert_eq!(first, TickOutcome::Ran(RunStatus::Completed));
        assert_eq!(
            runs_with(&h.store, "schedule").await.len(),
            1,
            "one refresh, not two"
        );
        assert_eq!(metrics.ticks("skipped_overlap"), 1);
        // The guard is released when the refresh ends: the next tick runs again.
        h.fake.set_latency(Duration::ZERO);
        let later = Utc::now() + chrono::Duration::seconds(2);
        assert_eq!(
            refresh.tick(later).await,
            TickOutcome::Ran(RunStatus::Completed)
        );
    }
);

// ---------------------------------------------------------------------------------------
// One runner across processes, and shutdown

db_test!(
    async fn two_daemons_one_works_and_the_other_takes_over_when_it_is_killed(db: TestDb) {
        let (world, ids) = bands(6, 3);
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SYNC_CONCURRENCY", "1")],
        )
        .await;
        h.seed(&ids.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        // Slow enough that the first refresh is still going when its daemon is killed.
        h.fake.set_latency(Duration::from_millis(250));
        let daemon_env = [
            ("SYNC_SCHEDULE", "*/2 * * * * *"),
            ("QUEUE_POLL", "200ms"),
            ("LOCK_WAIT", "300ms"),
        ];
        let mut daemons = [
            DaemonProcess::spawn(&h.env, &daemon_env),
            DaemonProcess::spawn(&h.env, &daemon_env),
        ];
        let started = "scheduled refresh starting";

        let store = h.store.clone();
        eventually(
            Duration::from_secs(15),
            "a scheduled refresh is running",
            || {
                let store = store.clone();
                async move {
                    runs_with(&store, "schedule")
                        .await
                        .iter()
                        .any(|r| r.status == RunStatus::Running)
                }
            },
        )
        .await;
        eventually(
            Duration::from_secs(5),
            "the worker logged its start",
            || {
                let any = daemons.iter().any(|d| d.log().contains(started));
                async move { any }
            },
        )
        .await;
        let worker = daemons
            .iter()
            .position(|d| d.log().contains(started))
            .unwrap();
        let standby = 1 - worker;
        // The standby's next tick finds the lock taken and skips.
        eventually(Duration::from_secs(5), "the standby skipped a tick", || {
            let skipped = daemons[standby]
                .log()
                .contains("scheduled refresh skipped: another runner is working");
            async move { skipped }
        })
        .await;
        assert!(
            !daemons[standby].log().contains(started),
            "exactly one daemon works:\n{}",
            daemons[standby].log()
        );
        let killed_run = runs_with(&h.store, "schedule")
            .await
            .into_iter()
            .find(|r| r.status == RunStatus::Running)
            .expect("the worker's run");
        assert_eq!(
            runs(&h.store)
                .await
                .iter()
                .filter(|r| r.status == RunStatus::Running)
                .count(),
            1,
            "never two runs at once"
        );

        daemons[worker].child.kill().expect("SIGKILL");
        daemons[worker].child.wait().unwrap();
        h.fake.set_latency(Duration::ZERO);

        eventually(
            Duration::from_secs(10),
            "the standby takes over and completes a refresh",
            || {
                let store = h.store.clone();
                async move {
                    runs_with(&store, "schedule")
                        .await
                        .iter()
                        .any(|r| r.id > killed_run.id && r.status == RunStatus::Completed)
                }
            },
        )
        .await;
        assert!(daemons[standby].log().contains(started));
        let abandoned = h.store.run(killed_run.id).await.unwrap().unwrap();
        assert_eq!(
            abandoned.status,
            RunStatus::Interrupted,
            "the killed daemon's run is closed by the one that took the lock"
        );
        assert!(
            abandoned
                .stop_reason
                .unwrap_or_default()
                .contains("abandoned")
        );
        for id in &ids {
            assert_eq!(
                h.tracks(id).await.len(),
                3,
                "every band refreshed in the end"
            );
        }

        daemons[standby].signal("TERM");
        let status = daemons[standby].wait_exit(Duration::from_secs(15)).await;
        assert_eq!(status.code(), Some(0), "{}", daemons[standby].log());
    }
);

db_test!(
    async fn sigterm_mid_run_leaves_each_artist_old_or_new_and_the_run_interrupted(db: TestDb) {
        let (world, ids) = bands(8, 3);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&ids.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let old: HashMap<String, (Vec<String>, Vec<String>)> = {
            let mut old = HashMap::new();
            for id in &ids {
                let names = h.tracks(id).await.into_iter().map(|t| t.name).collect();
                old.insert(id.clone(), (names, h.related(id).await));
            }
            old
        };
        // New upstream data: renamed tracks and related lists in the other order.
        h.fake.update_world(|w| {
            for track in &mut w.tracks {
                track.title.push_str(" (v2)");
            }
            for artist in w.deezer.values_mut() {
                artist.related.reverse();
            }
            for artist in w.spotify.values_mut() {
                artist.related.reverse();
            }
        });
        h.fake.set_latency(Duration::from_millis(300));
        let mut daemon = DaemonProcess::spawn(
            &h.env,
            &[
                ("SYNC_SCHEDULE", "* * * * * *"),
                ("QUEUE_POLL", "200ms"),
                ("SYNC_CONCURRENCY", "2"),
                // Everything is due again at once.
                ("SYNC_TRACKS_MAX_AGE", "0s"),
                ("SYNC_RELATED_MAX_AGE", "0s"),
            ],
        );

        let is_new = |names: &[String]| names.iter().all(|n| n.ends_with("(v2)"));
        eventually(Duration::from_secs(15), "one artist has new data", || {
            let h = &h;
            let ids = &ids;
            async move {
                for id in ids {
                    let names: Vec<String> =
                        h.tracks(id).await.into_iter().map(|t| t.name).collect();
                    if is_new(&names) {
                        return true;
                    }
                }
                false
            }
        })
        .await;
        daemon.signal("TERM");
        let status = daemon.wait_exit(Duration::from_secs(20)).await;
        assert_eq!(status.code(), Some(0), "clean exit:\n{}", daemon.log());

        let mut fully_new = 0;
        let mut fully_old = 0;
        for id in &ids {
            let names: Vec<String> = h.tracks(id).await.into_iter().map(|t| t.name).collect();
            let related = h.related(id).await;
            let (old_names, old_related) = &old[id];
            if is_new(&names) {
                let mut reversed = old_related.clone();
                reversed.reverse();
                assert_eq!(related, reversed, "{id}: new tracks come with new related");
                fully_new += 1;
            } else {
                assert_eq!(&names, old_names, "{id}: untouched tracks");
                assert_eq!(&related, old_related, "{id}: untouched related");
                fully_old += 1;
            }
        }
        assert!(
            fully_new >= 1 && fully_old >= 1,
            "stopped mid-run: {fully_new} new, {fully_old} old"
        );
        let run = runs_with(&h.store, "schedule").await.remove(0);
        assert_eq!(run.status, RunStatus::Interrupted, "{run:?}");
        assert!(run.finished_at.is_some());
        assert_eq!(
            run.counts.artists_refreshed, fully_new,
            "honest counts: {run:?}"
        );
        assert!(daemon.log().contains("work in progress finished"));

        // `status` shows the schedule and the queue.
        let out = Command::new(env!("CARGO_BIN_EXE_artistbot"))
            .arg("status")
            .current_dir(std::env::temp_dir())
            .envs(h.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("SYNC_SCHEDULE", "0 0 3 * * *")
            .output()
            .expect("running artistbot status");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("next scheduled run"), "{text}");
        assert!(text.contains("KST"), "{text}");
        assert!(text.contains("request queue"), "{text}");
        assert!(text.contains("interrupted"), "{text}");
    }
);

db_test!(
    async fn past_the_shutdown_grace_the_run_is_recorded_and_the_daemon_exits(db: TestDb) {
        let (world, ids) = bands(6, 2);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&ids.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        h.fake.set_latency(Duration::from_millis(100));
        let mut daemon = DaemonProcess::spawn(
            &h.env,
            &[
                ("SYNC_SCHEDULE", "* * * * * *"),
                ("SYNC_CONCURRENCY", "1"),
                ("SHUTDOWN_GRACE", "1s"),
                ("HTTP_TIMEOUT", "30s"),
            ],
        );
        let store = h.store.clone();
        let first = ids[0].clone();
        eventually(
            Duration::from_secs(15),
            "the first band is refreshed",
            || {
                let store = store.clone();
                let first = first.clone();
                async move { !store.stored_tracks(&first).await.unwrap().is_empty() }
            },
        )
        .await;
        // The artist in flight now hangs on a slow upstream, longer than the grace.
        h.fake.set_latency(Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(300)).await;

        let asked = Instant::now();
        daemon.signal("TERM");
        let status = daemon.wait_exit(Duration::from_secs(10)).await;

        assert_eq!(status.code(), Some(0), "{}", daemon.log());
        assert!(
            asked.elapsed() < Duration::from_secs(8),
            "{:?}",
            asked.elapsed()
        );
        let run = runs_with(&h.store, "schedule").await.remove(0);
        assert_eq!(run.status, RunStatus::Interrupted, "{run:?}");
        assert!(run.stop_reason.unwrap_or_default().contains("deadline"));
        let mut with_data = 0;
        for id in &ids {
            if !h.tracks(id).await.is_empty() {
                with_data += 1;
            }
        }
        assert_eq!(run.counts.artists_refreshed, with_data, "honest counts");
        assert!(with_data < ids.len() as u64, "the run was cut short");
    }
);

db_test!(
    async fn a_second_signal_exits_at_once(db: TestDb) {
        let (world, ids) = bands(2, 2);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&ids.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        // The first artist's top tracks hang, so an artist is surely in flight.
        h.fake.inject(
            Provider::Deezer,
            "/top",
            testkit::fake::Fault::Delay(Duration::from_secs(20)),
            10,
        );
        let mut daemon = DaemonProcess::spawn(
            &h.env,
            &[("SYNC_SCHEDULE", "* * * * * *"), ("HTTP_TIMEOUT", "30s")],
        );
        eventually(
            Duration::from_secs(10),
            "an artist is being fetched",
            || {
                let searched = h.fake.count(Provider::Deezer, "/search") > 0;
                async move { searched }
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;

        daemon.signal("TERM");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            daemon.child.try_wait().unwrap().is_none(),
            "still finishing"
        );
        let asked = Instant::now();
        daemon.signal("TERM");
        let status = daemon.wait_exit(Duration::from_secs(5)).await;

        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(status.code(), Some(130), "{}", daemon.log());
        // Nothing was half written; the next runner closes the run left `running`.
        for id in &ids {
            assert!(h.tracks(id).await.is_empty());
        }
    }
);

// ---------------------------------------------------------------------------------------
// The request queue

db_test!(
    async fn a_queued_name_is_onboarded_in_one_poll_and_its_alias_then_costs_no_call(db: TestDb) {
        let mut world = World::new();
        let ohmygirl = world.add_artist(201, "OH MY GIRL", Some(9201), 4);
        let ive = world.add_artist(202, "IVE", Some(9202), 3);
        world.relate(&ohmygirl, &[&ive]);
        world.alias_on_both("오마이걸", &ohmygirl);
        world.alias_on_both("아이브", &ive);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        // IVE is a refreshed catalog artist (matched on Deezer) when users ask.
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let settings = settings_from(
            &h.env,
            &[("QUEUE_POLL", "300ms"), ("HEALTH_ADDR", "127.0.0.1:0")],
        );
        let daemon = InProcessDaemon::start(settings);
        // Let the daemon connect and settle, then ask.
        let health_addr = daemon.health_addr.clone();
        eventually(Duration::from_secs(5), "the health server is up", || {
            let up = health_addr.get().is_some();
            async move { up }
        })
        .await;

        let asked = Instant::now();
        let now = artistbot::store::now();
        h.store.record_request("오마이걸", now).await.unwrap();
        h.store.record_request("아이브", now).await.unwrap();
        h.store.record_request(" 아이브 ", now).await.unwrap();
        eventually(
            Duration::from_secs(5),
            "both requests are done and the new artist's data is in",
            || {
                let store = h.store.clone();
                let ohmygirl = ohmygirl.clone();
                async move {
                    let a = store.request("오마이걸").await.unwrap().unwrap();
                    let b = store.request("아이브").await.unwrap().unwrap();
                    a.status == RequestStatus::Done
                        && b.status == RequestStatus::Done
                        && store.stored_tracks(&ohmygirl).await.unwrap().len() == 4
                }
            },
        )
        .await;
        let took = asked.elapsed();

        // One poll (300 ms) plus the work, not a second poll later.
        assert!(
            took < Duration::from_millis(300) + Duration::from_secs(2),
            "{took:?}"
        );
        let omg = h.store.request("오마이걸").await.unwrap().unwrap();
        assert_eq!(omg.attempts, 1);
        assert_eq!(omg.artist_id.as_deref(), Some(ohmygirl.as_str()));
        let row = h.artist(&ohmygirl).await;
        assert_eq!(row.added_via, AddedVia::Request.as_str());
        assert_eq!(h.tracks(&ohmygirl).await.len(), 4, "fetched right away");
        assert_eq!(h.related(&ohmygirl).await, vec![ive.clone()]);
        let ive_request = h.store.request("아이브").await.unwrap().unwrap();
        assert_eq!(ive_request.times_asked, 2, "many asks, one request");
        assert_eq!(ive_request.artist_id.as_deref(), Some(ive.as_str()));
        assert_eq!(
            h.store.artist_count().await.unwrap(),
            2,
            "IVE only got an alias"
        );

        // The spellings now resolve from the catalog, without any API call.
        h.fake.clear_calls();
        let (spotify, deezer) = h.engine().clients(artistbot::store::now()).await.unwrap();
        for (spelling, id) in [("오마이걸", &ohmygirl), ("아이브", &ive)] {
            let found = h.store.artists_named(&name_key(spelling)).await.unwrap();
            assert_eq!(found[0].id, *id);
            let outcome = Resolver::new(&h.store, Some(&spotify), &deezer, 1000, 1)
                .resolve(&[ArtistRef::Name(spelling.into())], AddedVia::Request)
                .await
                .unwrap();
            assert!(
                matches!(&outcome[0], AddOutcome::AlreadyPresent { id: present, .. } if present == id)
            );
        }
        assert!(h.fake.calls().is_empty(), "{:?}", h.fake.calls());

        // Health and metrics.
        let base = format!("http://{}", daemon.health_addr.get().unwrap());
        let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
        assert_eq!(health.status(), 200);
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("artistbot_requests_handled_total{outcome=\"added\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("artistbot_request_queue{state=\"done\"} 2"),
            "{metrics}"
        );
        assert!(
            metrics
                .contains("artistbot_sync_runs_total{trigger=\"request\",status=\"completed\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("artistbot_api_calls_total{provider=\"spotify\",status=\"ok\"}"),
            "{metrics}"
        );
        assert!(
            metrics.contains("artistbot_api_calls_total{provider=\"deezer\",status=\"ok\"}"),
            "{metrics}"
        );
        daemon.stop().await;
    }
);

db_test!(
    async fn a_name_not_found_is_not_retried_before_its_delay(db: TestDb) {
        let (world, _) = bands(1, 1);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        let daemon = InProcessDaemon::start(settings_from(
            &h.env,
            &[
                ("QUEUE_POLL", "200ms"),
                ("REQUEST_RETRY_DELAY", "2s"),
                ("REQUEST_MAX_ATTEMPTS", "2"),
            ],
        ));
        h.store
            .record_request("Nobody Knows This Band", artistbot::store::now())
            .await
            .unwrap();
        let searches = || h.fake.count(Provider::SpotifyApi, "/search");

        eventually(Duration::from_secs(5), "the first try", || {
            let store = h.store.clone();
            async move {
                store
                    .request("Nobody Knows This Band")
                    .await
                    .unwrap()
                    .is_some_and(|r| r.status == RequestStatus::NotFound)
            }
        })
        .await;
        let missed = h
            .store
            .request("Nobody Knows This Band")
            .await
            .unwrap()
            .unwrap();
        let seen_at = artistbot::store::now();
        assert_eq!(missed.attempts, 1);
        assert_eq!(searches(), 1);
        let retry_at = missed.next_attempt_at.expect("a retry time");
        let delay = (retry_at - seen_at).num_seconds();
        assert!((1..=2).contains(&delay), "about 2 s later, got {delay} s");

        // Polls go by (every 200 ms) until just before the retry time: no second search.
        let polls_before = daemon.metrics.requests("not_found");
        while Utc::now().naive_utc() < retry_at - chrono::Duration::milliseconds(200) {
            assert_eq!(searches(), 1, "not retried before its delay");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(daemon.metrics.requests("not_found"), polls_before);

        eventually(Duration::from_secs(5), "the second try", || {
            let store = h.store.clone();
            async move {
                store
                    .request("Nobody Knows This Band")
                    .await
                    .unwrap()
                    .is_some_and(|r| r.attempts == 2)
            }
        })
        .await;
        assert!(artistbot::store::now() >= retry_at, "retried only once due");
        assert_eq!(searches(), 2);
        let given_up = h
            .store
            .request("Nobody Knows This Band")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(given_up.status, RequestStatus::NotFound);
        assert_eq!(
            given_up.next_attempt_at, None,
            "two tries allowed: given up"
        );
        let counts = h
            .store
            .request_counts(artistbot::store::now())
            .await
            .unwrap();
        assert_eq!(counts.not_found_given_up, 1);
        assert_eq!(daemon.metrics.requests("not_found"), 2);
        daemon.stop().await;
    }
);

// ---------------------------------------------------------------------------------------
// Resilience

db_test!(
    async fn the_daemon_survives_the_database_going_away_and_coming_back(db: TestDb) {
        let mut world = World::new();
        let first = world.add_artist(301, "First Band", Some(9301), 2);
        let second = world.add_artist(302, "Second Band", Some(9302), 2);
        let backend = db.backend;
        let mysql = db.mysql_parts().map(|(s, n)| (s.to_owned(), n.to_owned()));
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        let quick = [("QUEUE_POLL", "200ms")];

        match backend {
            Backend::Mysql => {
                let (server, name) = mysql.unwrap();
                let target: SocketAddr = server
                    .rsplit('@')
                    .next()
                    .unwrap()
                    .parse()
                    .expect("TEST_MYSQL_URL names host:port");
                let proxy = FlakyProxy::start(target).await;
                let through_proxy = server.replace(&target.to_string(), &proxy.addr.to_string());
                let url = format!("{through_proxy}/{name}");
                let daemon = InProcessDaemon::start(settings_from(
                    &h.env,
                    &[quick[0], ("DATABASE_URL", url.as_str())],
                ));
                h.store
                    .record_request("First Band", artistbot::store::now())
                    .await
                    .unwrap();
                wait_onboarded(&h.store, "First Band", &first).await;

                proxy.go_down();
                h.store
                    .record_request("Second Band", artistbot::store::now())
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(1500)).await;
                assert!(
                    daemon.is_running(),
                    "a lost database does not end the daemon"
                );
                let waiting = h.store.request("Second Band").await.unwrap().unwrap();
                assert_eq!(waiting.status, RequestStatus::Pending);

                proxy.come_back();
                wait_onboarded(&h.store, "Second Band", &second).await;
                daemon.stop().await;
            }
            Backend::Sqlite => {
                // A database that is not there yet (its directory is missing), then is.
                let dir = tempfile::tempdir().unwrap();
                let missing = dir.path().join("later");
                let url = format!("sqlite://{}?mode=rwc", missing.join("a.db").display());
                let daemon = InProcessDaemon::start(settings_from(
                    &h.env,
                    &[quick[0], ("DATABASE_URL", url.as_str())],
                ));
                tokio::time::sleep(Duration::from_millis(1000)).await;
                assert!(
                    daemon.is_running(),
                    "an unreachable database does not end the daemon"
                );

                std::fs::create_dir_all(&missing).unwrap();
                let store = Store::connect(&DatabaseUrl::new(url.clone()), PoolOptions::default())
                    .await
                    .unwrap();
                eventually(
                    Duration::from_secs(5),
                    "the daemon migrated the database",
                    || {
                        let store = store.clone();
                        async move { store.ensure_schema().await.is_ok() }
                    },
                )
                .await;
                store
                    .record_request("First Band", artistbot::store::now())
                    .await
                    .unwrap();
                wait_onboarded(&store, "First Band", &first).await;
                daemon.stop().await;
            }
        }
    }
);

db_test!(
    async fn the_daemon_deletes_requests_past_their_retention_at_its_first_poll(db: TestDb) {
        let (world, _) = bands(1, 1);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        let long_ago = artistbot::store::now() - chrono::Duration::days(10);
        for name in ["Long Done", "Long Unasked"] {
            h.store.record_request(name, long_ago).await.unwrap();
        }
        let done = h.store.request("Long Done").await.unwrap().unwrap();
        h.store
            .resolve_request(&done.query_key, "dz:1", 1, long_ago)
            .await
            .unwrap();
        // Not due for a while, so the poll does not onboard it before it expires.
        let unasked = h.store.request("Long Unasked").await.unwrap().unwrap();
        h.store
            .miss_request(
                &unasked.query_key,
                RequestStatus::NotFound,
                1,
                Some(artistbot::store::now() + chrono::Duration::days(1)),
                None,
            )
            .await
            .unwrap();
        h.store
            .record_request("Asked Today", artistbot::store::now())
            .await
            .unwrap();

        let daemon = InProcessDaemon::start(settings_from(
            &h.env,
            &[("QUEUE_POLL", "100ms"), ("REQUESTS_RETENTION", "7d")],
        ));
        eventually(Duration::from_secs(5), "expired requests deleted", || {
            let store = h.store.clone();
            async move { store.request("Long Done").await.unwrap().is_none() }
        })
        .await;
        let expired = daemon.metrics.requests_expired();
        daemon.stop().await;

        assert_eq!(h.store.request("Long Unasked").await.unwrap(), None);
        assert!(h.store.request("Asked Today").await.unwrap().is_some());
        assert_eq!(expired, 2);
    }
);

/// Waits until the request for `query` is done and its artist's tracks are stored (the
/// targeted refresh runs right after the request is resolved).
async fn wait_onboarded(store: &Store, query: &str, artist_id: &str) {
    let what = format!("request {query:?} onboarded with its tracks");
    eventually(Duration::from_secs(15), &what, || {
        let store = store.clone();
        let (query, artist_id) = (query.to_owned(), artist_id.to_owned());
        async move {
            let done = store
                .request(&query)
                .await
                .ok()
                .flatten()
                .is_some_and(|r| r.status == RequestStatus::Done);
            done && store
                .stored_tracks(&artist_id)
                .await
                .is_ok_and(|tracks| !tracks.is_empty())
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Deployment: the MySQL grants

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_user_with_the_deployed_grants_can_sync_and_hold_the_lock() {
    use sea_orm::ConnectionTrait;
    crate::support::init_logs();
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let (server, name) = db
        .mysql_parts()
        .map(|(s, n)| (s.to_owned(), n.to_owned()))
        .unwrap();
    let (world, ids) = bands(3, 2);
    let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
    h.seed(&ids.iter().map(String::as_str).collect::<Vec<_>>())
        .await;

    // Exactly the deployed statements, for this test's database and a user of its own.
    let user = format!("abtest_sync_{}", fastrand::u32(..));
    let password = format!("pw{}", fastrand::u64(..));
    let _cleanup = testkit::db::DropUsers {
        server: server.clone(),
        users: vec![user.clone()],
    };
    // The placeholders as the README's `render` fills them in; any host, no TLS (the
    // test server has none).
    let statements = testkit::deploy_sql::render(
        &include_str!("../../deploy/mysql/sync-grants.sql")
            .replace("'artistbot_sync'", &format!("'{user}'")),
        &[
            ("DATABASE", &name),
            ("SYNC_HOST", "%"),
            ("SYNC_PASSWORD", &password),
            ("SYNC_TLS", "NONE"),
        ],
    );
    let admin = sea_orm::Database::connect(server.as_str()).await.unwrap();
    assert!(statements.len() >= 9, "{statements:?}");
    for statement in &statements {
        admin
            .execute_unprepared(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    admin.close().await.unwrap();

    let host = server.rsplit('@').next().unwrap();
    let sync_url = format!("mysql://{user}:{password}@{host}/{name}");
    let settings = settings_from(&h.env, &[("DATABASE_URL", &sync_url)]);
    let store = Store::connect(&settings.database_url, PoolOptions::default())
        .await
        .unwrap();
    store
        .ensure_schema()
        .await
        .expect("the sync user may check the schema");

    // It holds the runner lock (a second holder is refused)...
    let mut lock = RunnerLock::new(&settings.database_url);
    assert!(lock.try_acquire().await.unwrap(), "GET_LOCK needs no grant");
    let mut other = RunnerLock::new(&settings.database_url);
    assert!(!other.try_acquire().await.unwrap());
    // ...runs a full sync with it, including the queue's writes...
    store
        .record_request("Band 0", artistbot::store::now())
        .await
        .unwrap();
    let engine = SyncEngine::new(store.clone(), settings.clone());
    let report = engine
        .run(
            artistbot::sync::RunOptions::stale(artistbot::sync::Trigger::Schedule),
            CancellationToken::new(),
            &artistbot::sync::NoProgress,
        )
        .await
        .expect("the sync runs as the sync user");
    assert_eq!(report.status, RunStatus::Completed, "{report:?}");
    let again = engine
        .run(
            artistbot::sync::RunOptions {
                force: true,
                ..artistbot::sync::RunOptions::stale(artistbot::sync::Trigger::Schedule)
            },
            CancellationToken::new(),
            &artistbot::sync::NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(
        again.status,
        RunStatus::Completed,
        "rows replaced: {again:?}"
    );
    assert_eq!(
        store
            .interrupt_abandoned_runs(artistbot::store::now())
            .await
            .unwrap(),
        0
    );
    assert!(lock.release().await.unwrap());
    assert_eq!(h.tracks(&ids[0]).await.len(), 2);
    // ...and may not change the schema.
    let sea_orm_db = sea_orm::Database::connect(sync_url.as_str()).await.unwrap();
    let create = sea_orm_db
        .execute_unprepared("CREATE TABLE sneaky (id INT)")
        .await;
    assert!(create.is_err(), "no DDL for the sync user");
    let _ = sea_orm_db.close().await;
}

/// The lock's session killed from outside (a restart, a network cut): the holder finds out
/// at its next check instead of working on beside another runner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_mysql_lock_is_noticed_by_its_holder() {
    crate::support::init_logs();
    let Some(db) = testkit::db::TestDb::mysql().await else {
        return;
    };
    let url = DatabaseUrl::new(db.url.clone());
    let mut lock = RunnerLock::new(&url);
    assert!(lock.try_acquire().await.unwrap());
    assert!(lock.still_held().await.unwrap());

    let (server, database) = db.mysql_parts().expect("a MySQL test database");
    let admin = sea_orm::Database::connect(server).await.unwrap();
    let name = artistbot::store::lock::lock_name(database);
    let holder = sea_orm::ConnectionTrait::query_one_raw(
        &admin,
        sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::MySql,
            "SELECT IS_USED_LOCK(?) AS id",
            [name.clone().into()],
        ),
    )
    .await
    .unwrap()
    .and_then(|row| row.try_get::<Option<i64>>("", "id").ok().flatten())
    .expect("the lock has a holder");
    sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("KILL {holder}"))
        .await
        .unwrap();

    assert!(
        !matches!(lock.still_held().await, Ok(true)),
        "the loss is seen"
    );
    assert!(!lock.is_held());
    // And it can be taken again (by this runner or another) once free.
    assert!(lock.try_acquire().await.unwrap());
}
