import FoglineDash
import FoglineWire
import Testing

@Suite("dashboard keys and reducer")
struct DashReducerTests {
    @Test("key decoding: text, control bytes, CSI and SS3 arrows, Home/End/PgUp/PgDn, a lone Escape")
    func decoding() {
        let decoder = KeyDecoder()
        #expect(decoder.decode(Array("jk/q".utf8)) == [.character("j"), .character("k"), .character("/"), .character("q")])
        #expect(decoder.decode([0x1B, 0x5B, 0x41, 0x1B, 0x5B, 0x42, 0x1B, 0x4F, 0x43, 0x1B, 0x4F, 0x44]) == [.up, .down, .right, .left])
        #expect(decoder.decode(Array("\u{1B}[5~\u{1B}[6~\u{1B}[1~\u{1B}[4~\u{1B}[H\u{1B}[F".utf8))
            == [.pageUp, .pageDown, .home, .end, .home, .end])
        #expect(decoder.decode([0x1B]) == [.escape])
        #expect(decoder.decode([0x0D, 0x7F, 0x03, 0x09]) == [.enter, .backspace, .interrupt, .tab])
        #expect(decoder.decode(Array("é≠".utf8)) == [.character("é"), .character("≠")])
        #expect(decoder.decode(Array("\u{1B}[1;5A".utf8)) == [.up], "modifiers are ignored")
        #expect(decoder.decode(Array("\u{1B}[200~x".utf8)) == [.character("x")], "an unknown sequence is dropped whole")
        #expect(decoder.decode([0xFF, 0x61]) == [.character("a")], "invalid UTF-8 is skipped")
    }

    @Test("site → device → edit desired → back: the views, the selection and the write effect")
    func drillDownAndEdit() {
        var state = DashFixtures.state()
        #expect(state.visibleSites.map(\.name) == ["greenhouse-2", "plant-1", "substation-3"])
        #expect(state.handle(.down) == [])
        #expect(state.handle(.enter) == [.refresh])
        #expect(state.view == .site("plant-1"))
        #expect(state.fetchPlan == FetchPlan(site: "plant-1"))

        // The fetch for the site arrives.
        state.apply(DashSnapshot(
            plan: state.fetchPlan, fetchedAtMs: DashFixtures.now, sites: DashFixtures.sites, site: DashFixtures.sites[0],
            devices: DashFixtures.devices))
        #expect(state.visibleDevices.map(\.id) == ["gw-1", "meter-7", "th-1", "th-2", "valve-1"])
        _ = state.handle(.character("j"))
        _ = state.handle(.character("j"))
        #expect(state.handle(.enter) == [.refresh])
        #expect(state.view == .device(site: "plant-1", device: "th-1"))
        #expect(state.fetchPlan == FetchPlan(site: "plant-1", device: "th-1"))
        state.apply(DashSnapshot(
            plan: state.fetchPlan, fetchedAtMs: DashFixtures.now, sites: DashFixtures.sites, site: DashFixtures.sites[0],
            devices: DashFixtures.devices, device: DashFixtures.thermostat))

        // e on the twin's selected field (setpoint) prefills its name.
        _ = state.handle(.down)
        #expect(state.selectedField == "setpoint")
        #expect(state.handle(.character("e")) == [])
        #expect(state.input == .edit(site: "plant-1", device: "th-1", text: "setpoint="))
        for character in "23.5" { _ = state.handle(.character(character)) }
        #expect(state.handle(.enter) == [.putDesired(site: "plant-1", device: "th-1", fields: ["setpoint": 23.5])])
        #expect(state.input == .normal)

        #expect(state.handle(.escape) == [.refresh])
        #expect(state.view == .site("plant-1"))
        #expect(state.handle(.escape) == [.refresh])
        #expect(state.view == .sites)
        #expect(state.handle(.character("q")) == [.quit])
    }

    @Test("edit values: JSON scalars as JSON, other text as a string; bad input keeps the prompt and says why")
    func assignments() {
        func parse(_ text: String) -> JSONValue? { try? DashState.parseAssignment(text).get().1 }
        #expect(parse("setpoint=22") == .number(22))
        #expect(parse("enabled = true") == .bool(true))
        #expect(parse("mode=heat") == .string("heat"))
        #expect(parse(#"mode="auto""#) == .string("auto"))
        #expect(parse("x=null") == .null)
        #expect(parse("setpoint") == nil)
        #expect(parse("=3") == nil)
        #expect(parse("pump.speed=3") == .number(3), "any name the API takes")
        #expect(parse(String(repeating: "x", count: 129) + "=3") == nil, "longer than a payload name may be")
        #expect(parse("list=[1]") == nil)

        var state = DashFixtures.state([.sites, .site("plant-1")])
        state.selectedDevice = "valve-1"
        _ = state.handle(.character("e"))
        #expect(state.input == .edit(site: "plant-1", device: "valve-1", text: ""), "no desired field to prefill")
        for character in "oops" { _ = state.handle(.character(character)) }
        #expect(state.handle(.enter) == [])
        #expect(state.input == .edit(site: "plant-1", device: "valve-1", text: "oops"))
        #expect(state.notice?.isError == true)
        _ = state.handle(.escape)
        #expect(state.input == .normal)
    }

    @Test("filter: typed live, Enter keeps it, Esc restores the one before")
    func filter() {
        var state = DashFixtures.state()
        for key: DashKey in [.character("/"), .character("p"), .character("l")] { _ = state.handle(key) }
        #expect(state.visibleSites.map(\.name) == ["plant-1"])
        _ = state.handle(.enter)
        #expect(state.siteFilter == "pl")
        for key: DashKey in [.character("/"), .backspace, .backspace, .character("z"), .escape] { _ = state.handle(key) }
        #expect(state.siteFilter == "pl")
        _ = state.handle(.escape)
        #expect(state.siteFilter == "", "Esc at the top clears the filter")
    }

    @Test("sort cycles; lag puts the site synced longest ago first; selection follows the site, not the row")
    func sort() {
        var state = DashFixtures.state()
        state.selectedSite = "plant-1"
        _ = state.handle(.character("s"))
        #expect(state.siteSort == .lag)
        #expect(state.visibleSites.map(\.name) == ["substation-3", "greenhouse-2", "plant-1"])
        #expect(state.siteCursor == 2)
        _ = state.handle(.character("s"))
        #expect(state.visibleSites.first?.name == "plant-1", "most alarms first")
        _ = state.handle(.character("s"))
        #expect(state.visibleSites.first?.name == "greenhouse-2", "most offline devices first")
        _ = state.handle(.character("s"))
        #expect(state.siteSort == .name)
    }

    @Test("help: ? opens it, any key closes it, q still quits")
    func help() {
        var state = DashFixtures.state()
        _ = state.handle(.character("?"))
        #expect(state.showHelp)
        #expect(state.handle(.down) == [])
        #expect(!state.showHelp)
        _ = state.handle(.character("?"))
        #expect(state.handle(.character("q")) == [.quit])
        #expect(state.handle(.interrupt) == [.quit])
    }

    @Test("refresh results: a failure keeps the data and starts the banner's clock once; success clears it")
    func connection() {
        var state = DashFixtures.state()
        state.applyFailure("refused", atMs: DashFixtures.now + 1_000)
        state.applyFailure("refused again", atMs: DashFixtures.now + 5_000)
        #expect(state.connection == .unreachable(sinceMs: DashFixtures.now + 1_000, reason: "refused again"))
        #expect(state.sites == DashFixtures.sites)
        state.apply(DashSnapshot(plan: FetchPlan(), fetchedAtMs: DashFixtures.now + 6_000, sites: []))
        #expect(state.connection == .connected)
        #expect(state.sites.isEmpty)
    }

    @Test("a refresh for a view that was closed meanwhile is not shown in the one opened since")
    func staleRefresh() {
        var state = DashFixtures.state([.sites, .site("plant-1")])
        _ = state.handle(.escape)
        state.selectedSite = "greenhouse-2"
        _ = state.handle(.enter)
        #expect(state.devices.isEmpty)
        state.apply(DashSnapshot(
            plan: FetchPlan(site: "plant-1"), fetchedAtMs: DashFixtures.now, sites: DashFixtures.sites, site: DashFixtures.sites[0],
            devices: DashFixtures.devices))
        #expect(state.devices.isEmpty)
        #expect(state.site == nil)
    }

    @Test("messages per second over a window of counter samples; a counter reset starts over")
    func rate() {
        var rate = MessageRate()
        #expect(rate.add(total: 100, atMs: 0) == nil)
        #expect(rate.add(total: 150, atMs: 500) == nil)
        #expect(rate.add(total: 200, atMs: 1_000) == 100)
        #expect(rate.add(total: 800, atMs: 7_000) == 100, "the window keeps the samples of the last 5 s")
        #expect(rate.add(total: 10, atMs: 7_500) == nil)
    }
}
