//! The web console in a real browser: headless Chromium loads the page
//! from a running server, its script polls the API, and we read back the
//! DOM it built and a screenshot of the map it drew.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::serve::*;
use waimai::wire::auth::Role;

fn chromium() -> PathBuf {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|c| Path::new("/usr/bin").join(c))
        .find(|p| p.exists());
    found.expect("Chromium not found: scripts/test installs it (apt-get install -y chromium)")
}

fn headless(args: &[&str], url: &str) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pixels of `png` within 12 of `rgb` on every channel.
fn count_colour(png: &Path, rgb: [u8; 3]) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    buf[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 12))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_draws_the_city_and_lists_orders_with_etas() {
    let dir = tempdir("console");
    let server = spawn(&dir).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let mut ws = rider(&server, 1, 0).await;
    go_online(&mut ws, R2).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, card, _) = post(&server, &merchant, "/v1/orders", order_body(), None).await;
        assert_eq!(status, 201);
        ids.push(card["id"].as_u64().unwrap());
    }
    // One of them goes to the rider: the console shows it assigned.
    let m = next(&mut ws).await;
    assert_eq!(m["type"], "assignment");

    let operator = token(&server, waimai::wire::auth::Role::Operator);
    // The server redraws the console while someone watches: watch, as an
    // open page would, until its picture holds both orders, one assigned.
    let drawn = async {
        loop {
            let (_, state) = get(&server, &operator, "/v1/console/state").await;
            let text = state["orders"].to_string();
            if ids.iter().all(|id| text.contains(&format!("\"id\":{id}"))) && text.contains("\"assigned\"") {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), drawn)
        .await
        .expect("the console's picture shows both orders within 10 s");
    let page = url(&server, &format!("/console#token={operator}"));
    let dump = tokio::task::spawn_blocking({
        let page = page.clone();
        move || headless(&["--dump-dom"], &page)
    })
    .await
    .unwrap();
    for id in &ids {
        assert!(
            dump.contains(&format!("data-order=\"{id}\"")),
            "order {id} not listed:\n{dump}"
        );
    }
    // Restaurants are listed with their state: r2 takes orders.
    let r2_row = dump
        .split("data-restaurant=\"r2\"")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_else(|| panic!("restaurant r2 not listed:\n{dump}"));
    assert!(r2_row.contains("<td>open</td>"), "r2's row: {r2_row}");
    assert!(dump.contains("2 active orders"), "status line:\n{dump}");
    assert!(dump.contains("<td>assigned</td>"), "an assigned order:\n{dump}");
    assert!(dump.contains(" min</td>"), "ETAs in minutes:\n{dump}");

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console.png");
    let arg = format!("--screenshot={}", shot.display());
    tokio::task::spawn_blocking(move || headless(&[&arg, "--window-size=1300,900"], &page))
        .await
        .unwrap();
    // Roads (grey-blue), the restaurants (red squares) and the rider
    // (green, waiting or amber, heading) are on the canvas.
    let roads = count_colour(&shot, [0xb9, 0xc2, 0xcc]);
    let restaurants = count_colour(&shot, [0xc6, 0x28, 0x28]);
    let riders = count_colour(&shot, [0xf9, 0xa8, 0x25]) + count_colour(&shot, [0x2e, 0x7d, 0x32]);
    assert!(roads > 5_000, "roads drawn: {roads} pixels ({})", shot.display());
    assert!(
        restaurants >= 40 * 30,
        "40 restaurants drawn: {restaurants} pixels"
    );
    assert!(riders >= 20, "the rider drawn: {riders} pixels");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_charts_a_merchants_analytics() {
    let dir = tempdir("console-analytics");
    let server = spawn(&dir).await;
    let r1 = token(&server, Role::Merchant("r1".into()));
    let operator = token(&server, Role::Operator);
    for (i, dish) in ["noodles", "noodles", "<b>bold</b>"].iter().enumerate() {
        let body = serde_json::json!({"type": "delivered", "order": format!("o{i}"), "merchant": "r1",
            "amount_cents": 2000, "items": [{"dish": dish, "category": "mains", "quantity": 2, "price_cents": 1000}]});
        let (status, b, _) = post(
            &server,
            &r1,
            &format!("/v1/customers/c{i}/commands"),
            body,
            Some("d"),
        )
        .await;
        assert_eq!(status, 200, "{b}");
    }
    let page = url(&server, &format!("/console#token={operator}&merchant=r1"));
    let dump = tokio::task::spawn_blocking({
        let page = page.clone();
        move || headless(&["--dump-dom"], &page)
    })
    .await
    .unwrap();
    assert!(dump.contains("r1: 3 orders in 28 days"), "summary:\n{dump}");
    assert!(dump.contains("data-dish=\"noodles\""), "dish list:\n{dump}");
    assert!(
        !dump.contains("<b>bold</b>"),
        "a dish name is text, never markup:\n{dump}"
    );
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-analytics.png");
    let arg = format!("--screenshot={}", shot.display());
    tokio::task::spawn_blocking(move || headless(&[&arg, "--window-size=1300,1100"], &page))
        .await
        .unwrap();
    let dish_bars = count_colour(&shot, [0x00, 0x89, 0x7b]);
    assert!(
        dish_bars > 500,
        "dish bars drawn: {dish_bars} pixels ({})",
        shot.display()
    );
    server.stop().await;
}
