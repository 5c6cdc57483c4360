//! The console over several real processors (`statmgr run` on temporary state directories)
//! in a real terminal (tmux): rows come alive, drill-down and back, pause through the file's
//! token, read-only without one, a killed processor's row, and a clean exit.

mod console_support;

use std::path::Path;

use console_support::tmux::{status_json, Processor, Tmux, STATMGR};

/// The table row of the processor named `name` (the line that starts with it).
fn row<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| {
            let cells = l.trim_start_matches(['│', '▶', ' ']);
            cells.starts_with(name)
        })
        .unwrap_or_else(|| panic!("no row for {name}:\n{screen}"))
}

fn running_rows(screen: &str) -> usize {
    screen.matches("● RUNNING").count()
}

fn write_processors(dir: &Path, a: &Processor, b: &Processor) -> std::path::PathBuf {
    let file = dir.join("processors.toml");
    let text = format!(
        "[[processor]]\nname = \"alpha\"\nurl = \"{}\"\ntoken_file = \"{}\"\n\n\
         [[processor]]\nname = \"beta\"\nroot = \"{}\"\n\n\
         [[processor]]\nname = \"alpha-watch\"\nurl = \"{}\"\n",
        a.url(),
        a.root.join("control").join("token").display(),
        b.root.display(),
        a.url(),
    );
    std::fs::write(&file, text).expect("write the processors file");
    file
}

#[test]
fn a_fleet_from_a_processors_file_pauses_with_each_token_and_sees_one_die() {
    let dirs = [(); 3].map(|_| tempfile::tempdir().expect("tempdir"));
    let a = Processor::start(dirs[0].path());
    let b = Processor::start(dirs[1].path());
    let file = write_processors(dirs[2].path(), &a, &b);
    let command = format!("{STATMGR} console --processors {}", file.display());
    let tmux = Tmux::start(120, 40, &command);
    let screen = tmux.wait_until("three rows RUNNING", |s| running_rows(s) == 3);
    assert!(row(&screen, "alpha-watch").contains("READ-ONLY"), "{screen}");
    assert!(row(&screen, "alpha ").contains("control"), "{screen}");

    // Into alpha's dashboard: p pauses it, as the processor itself reports.
    tmux.keys(&["Enter"]);
    tmux.wait_for("alpha │");
    tmux.wait_for("Key allocator");
    tmux.keys(&["p"]);
    tmux.wait_for("PAUSED");
    assert_eq!(status_json(&a.root)["state"], "paused");
    tmux.keys(&["Escape"]);
    let screen = tmux.wait_for("Processors 3");
    assert!(row(&screen, "alpha ").contains("PAUSED"), "{screen}");

    // On the fleet screen p acts on the selected row: beta, through its root's token...
    tmux.keys(&["j", "p"]);
    tmux.wait_until("beta paused", |s| row(s, "beta").contains("PAUSED"));
    assert_eq!(status_json(&b.root)["state"], "paused");
    // ...and the row without a token is refused, saying why.
    tmux.keys(&["j", "p"]);
    tmux.wait_for("read-only: p is disabled for alpha-watch");

    // A dead processor's row says so; the others go on.
    let b_root = b.root.clone();
    b.stop();
    let screen = tmux.wait_until("beta DISCONNECTED", |s| row(s, "beta").contains("DISCONNECTED"));
    assert!(row(&screen, "alpha ").contains("PAUSED"), "{screen}");
    assert!(!b_root.join("control").join("endpoint").exists());
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
    assert!(
        !tmux.screen().contains("Processors 3"),
        "the fleet stayed on the screen"
    );
}

#[test]
fn urls_on_the_command_line_are_a_read_only_fleet_that_a_hung_processor_does_not_hold_up() {
    let dirs = [(); 2].map(|_| tempfile::tempdir().expect("tempdir"));
    let a = Processor::start(dirs[0].path());
    let b = Processor::start(dirs[1].path());
    // Accepts connections (the kernel does) and never answers a request.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hung_url = format!("http://{}", hung.local_addr().expect("address"));
    let command = format!(
        "{STATMGR} console --url {} --url {} --url {hung_url}",
        a.url(),
        b.url()
    );
    let tmux = Tmux::start(120, 40, &command);
    let screen = tmux.wait_until("two rows RUNNING", |s| running_rows(s) == 2);
    let hung_name = hung_url.trim_start_matches("http://");
    assert!(!row(&screen, hung_name).contains("RUNNING"), "{screen}");
    for url in [a.url(), b.url(), hung_url.clone()] {
        let name = url.trim_start_matches("http://");
        assert!(row(&screen, name).contains("READ-ONLY"), "no tokens: {screen}");
    }

    let a_name = a.url().trim_start_matches("http://").to_string();
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("{a_name} │"));
    tmux.keys(&["p"]);
    tmux.wait_for("--url holds no token");
    assert_eq!(status_json(&a.root)["state"], "running");
    tmux.keys(&["Escape"]);
    tmux.wait_for("Processors 3");

    a.stop();
    let screen = tmux.wait_until("a DISCONNECTED", |s| row(s, &a_name).contains("DISCONNECTED"));
    let b_name = b.url().trim_start_matches("http://").to_string();
    assert!(row(&screen, &b_name).contains("RUNNING"), "{screen}");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
}
