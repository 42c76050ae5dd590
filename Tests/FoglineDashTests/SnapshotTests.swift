import FoglineDash
import Foundation
import Testing

/// Compares `text` with `Snapshots/NAME.txt` beside this file. `FOGLINE_RECORD_SNAPSHOTS=1`
/// (re)writes the files instead; a missing file is written and reported, so a new snapshot is
/// looked at once before it is committed.
func expectSnapshot(_ text: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots/\(name).txt")
    let record = ProcessInfo.processInfo.environment["FOGLINE_RECORD_SNAPSHOTS"] == "1"
    guard !record, let expected = try? String(contentsOf: file, encoding: .utf8) else {
        do { try text.write(to: file, atomically: true, encoding: .utf8) } catch {
            Issue.record("cannot write the snapshot \(file.path): \(error)", sourceLocation: sourceLocation)
        }
        if !record {
            Issue.record("no snapshot \(name) yet: recorded it; look at it, then run again", sourceLocation: sourceLocation)
        }
        return
    }
    #expect(text == expected, "frame differs from Snapshots/\(name).txt (FOGLINE_RECORD_SNAPSHOTS=1 re-records):\n\(text)",
            sourceLocation: sourceLocation)
}

@Suite("dashboard snapshots")
struct SnapshotTests {
    static let sizes = [TerminalSize(width: 80, height: 24), TerminalSize(width: 160, height: 48)]

    /// Renders `state` at both sizes and checks each frame against its snapshot, and that the
    /// frame is exactly the size asked for.
    func check(_ state: DashState, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for size in Self.sizes {
            let frame = render(state, size: size)
            let lines = frame.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            #expect(lines.count == size.height, sourceLocation: sourceLocation)
            #expect(lines.allSatisfy { $0.count <= size.width }, sourceLocation: sourceLocation)
            expectSnapshot(frame.text, named: "\(name)-\(size)", sourceLocation: sourceLocation)
        }
    }

    @Test("sites table: lag, offline devices and alarms per site")
    func sites() {
        check(DashFixtures.state(), "sites")
    }

    @Test("sites table in ASCII")
    func sitesASCII() {
        check(DashFixtures.state(ascii: true), "sites-ascii")
    }

    @Test("no sites yet")
    func empty() {
        var state = DashState(aggregator: "http://127.0.0.1:8480", nowMs: DashFixtures.now)
        state.apply(DashSnapshot(plan: FetchPlan(), fetchedAtMs: DashFixtures.now, sites: []))
        check(state, "empty")
    }

    @Test("aggregator unreachable: the banner, the last data shown with its age")
    func unreachable() {
        var state = DashFixtures.state()
        state.applyFailure("Cannot connect to 127.0.0.1:8480: Connection refused.", atMs: DashFixtures.now + 4_000)
        state.applyFailure("Cannot connect to 127.0.0.1:8480: Connection refused.", atMs: DashFixtures.now + 19_000)
        check(state, "unreachable")
    }

    @Test("never reached: the banner without data")
    func neverReached() {
        var state = DashState(aggregator: "http://10.0.0.9:8480", nowMs: DashFixtures.now)
        state.applyFailure("Cannot connect to 10.0.0.9:8480: Connection refused.", atMs: DashFixtures.now)
        check(state, "never-reached")
    }

    @Test("a site: nodes (unknowns as ?) and devices with trends and pending desired values")
    func site() {
        check(DashFixtures.state([.sites, .site("plant-1")]), "site")
    }

    @Test("a site with no devices and no node status")
    func siteEmpty() {
        check(DashFixtures.state([.sites, .site("substation-3")]), "site-empty")
    }

    @Test("a device: twin with a pending field, rollup chart, commands, no alarms")
    func device() {
        check(DashFixtures.state([.sites, .site("plant-1"), .device(site: "plant-1", device: "th-1")]), "device")
    }

    @Test("an offline device with alarms")
    func deviceAlarms() {
        check(DashFixtures.state([.sites, .site("plant-1"), .device(site: "plant-1", device: "valve-1")]), "device-alarms")
    }

    @Test("the audit pane: one verified chain, one broken")
    func audit() {
        check(DashFixtures.state([.sites, .site("plant-1"), .audit("plant-1")]), "audit")
    }

    @Test("the help overlay")
    func help() {
        var state = DashFixtures.state([.sites, .site("plant-1")])
        _ = state.handle(.character("?"))
        check(state, "help")
    }

    @Test("editing a desired field: the prompt")
    func editPrompt() {
        var state = DashFixtures.state([.sites, .site("plant-1")])
        state.selectedDevice = "th-1"
        _ = state.handle(.character("e"))
        #expect(state.input == .edit(site: "plant-1", device: "th-1", text: "setpoint="), "the pending field is offered")
        for character in "23" { _ = state.handle(.character(character)) }
        check(state, "edit")
    }

    @Test("filtered and sorted devices")
    func filtered() {
        var state = DashFixtures.state([.sites, .site("plant-1")])
        for key: DashKey in [.character("/"), .character("t"), .character("h"), .enter, .character("s"), .character("s"), .character("s")] {
            _ = state.handle(key)
        }
        state.notice = nil
        check(state, "site-filtered")
    }
}
