import FoglineDash
import FoglineWire
import Testing

@Suite("dashboard: reading the aggregator's JSON")
struct DashJSONTests {
    @Test("sites with node status; unknown members stay nil; the uplink holder is the latest contact")
    func sites() throws {
        let json = try StrictJSON.parse(#"""
            [{"site":"plant-1","nodes":[
                {"node":"edge-a","lastSyncMs":1000,"status":{"live":true,"roles":["cloud-uplink"],"shards":8,"clockTrusted":true,"hlcLagMs":-20}},
                {"node":"edge-b","lastSyncMs":2000,"status":{"live":false,"roles":null,"shards":null,"clockTrusted":null,"hlcLagMs":null}},
                {"node":"edge-c","lastSyncMs":null}],
              "devices":{"total":3,"online":2},"activeAlarms":1,"future":"ignored"}]
            """#)
        let sites = try DashJSON.sites(json)
        #expect(sites.count == 1)
        let site = sites[0]
        #expect(site.uplinkHolder?.name == "edge-b")
        #expect(site.nodesUp == 1)
        #expect(site.nodes[0].status == NodeStatus(live: true, roles: ["cloud-uplink"], shards: 8, clockTrusted: true, hlcLagMs: -20))
        #expect(site.nodes[1].status == NodeStatus(live: false))
        #expect(site.nodes[2].status == nil)
        #expect((site.devicesTotal, site.devicesOnline, site.activeAlarms) == (3, 2, 1))
        #expect(throws: DashDataError.self) { try DashJSON.sites(.object([])) }
    }

    @Test("a device list row: twin, telemetry, main metric windows; pending differences")
    func devices() throws {
        let json = try StrictJSON.parse(#"""
            [{"id":"th-1","online":true,"profile":"thermostat","activeAlarms":0,"lastSeenMs":5,
              "reported":{"setpoint":21,"mode":"heat"},"desired":{"setpoint":22,"mode":"heat"},
              "telemetry":{"received":10,"gaps":1},"mainMetric":"temp",
              "recent":[{"metric":"temp","window_start_ms":60000,"count":2,"sum":42,"min":20,"max":22,"last":22}]}]
            """#)
        let device = try #require(try DashJSON.devices(json).first)
        #expect(device.pendingCount == 1)
        #expect(device.twin.map(\.name) == ["mode", "setpoint"])
        #expect(device.recent.first?.mean == 21)
        #expect(device.telemetry == TelemetryStats(received: 10, gaps: 1))
    }

    @Test("the sync frames total from Prometheus text, summed over kinds")
    func metrics() {
        let text = """
            # TYPE fogline_cloud_sync_frames_total counter
            fogline_cloud_sync_frames_total{kind="hello"} 3
            fogline_cloud_sync_frames_total{kind="batch"} 40
            fogline_cloud_merges_total 9
            """
        #expect(DashJSON.syncFramesReceived(metrics: text) == 43)
        #expect(DashJSON.syncFramesReceived(metrics: "") == nil)
    }

    @Test("--url forms: http://HOST:PORT and HOST:PORT; https and paths say what to do")
    func url() throws {
        #expect(try DashClient(url: "http://127.0.0.1:8480/").url == "http://127.0.0.1:8480")
        #expect(try DashClient(url: "localhost:9000").url == "http://localhost:9000")
        #expect(throws: DashDataError.self) { try DashClient(url: "https://cloud:8480") }
        #expect(throws: DashDataError.self) { try DashClient(url: "http://cloud:8480/api") }
        #expect(throws: DashDataError.self) { try DashClient(url: "http://cloud") }
    }

    @Test("formats: durations, clock, numbers, sparkline, display-safe text")
    func formats() {
        #expect(DashFormat.duration(850) == "850ms")
        #expect(DashFormat.duration(12_000) == "12s")
        #expect(DashFormat.duration(192_000) == "3m12s")
        #expect(DashFormat.duration(7_500_000) == "2h05m")
        #expect(DashFormat.duration(277_200_000) == "3d05h")
        #expect(DashFormat.clock(DashFixtures.now) == "08:26:40")
        #expect(DashFormat.number(21.5) == "21.5")
        #expect(DashFormat.number(22) == "22")
        #expect(DashFormat.number(1 / 3) == "0.33")
        #expect(DashFormat.sparkline([1, 2, 3, 4, 5, 6, 7, 8], width: 8, glyphs: .unicode) == "▁▂▃▄▅▆▇█")
        #expect(DashFormat.sparkline([5, 5], width: 8, glyphs: .ascii) == "..", "a flat line in the middle")
        #expect(DashFormat.sparkline([1, 2, 3], width: 2, glyphs: .unicode) == "▁█", "the newest values")
        #expect(Frame.displaySafe("a\u{1B}[2Jb\u{4E2D}é") == "a?[2Jb?é")
    }
}
