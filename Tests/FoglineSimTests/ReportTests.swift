import FoglineSim
import Foundation
import Testing

@Suite("Report")
struct ReportTests {
    @Test("the report is deterministic JSON that decodes back")
    func jsonRoundTrip() throws {
        func report() throws -> SimReport {
            var run = try Fixtures.run([("valve", 2), ("door_sensor", 1)], seed: 6, faults: ["gap=0.2", "duplicate=0.2", "malformed=0.2"], durationMillis: 20_000)
            run.runToEnd()
            return run.simulation.report()
        }
        let first = try report()
        let second = try report()
        #expect(first.json() == second.json())
        #expect(try JSONDecoder().decode(SimReport.self, from: Data(first.json().utf8)) == first)
        let compact = first.json(compact: true)
        #expect(compact.hasPrefix(#"{"devices":[{"births":1,"commandsAcked":{"failed":0,"ok":0,"rejected":0},"connectionLosses":0,"desiredApplied":0"#))
        #expect(compact.contains(#""faults":"duplicate=0.2 malformed=0.2 gap=0.2""#))
        #expect(compact.contains(#""malformedByVariant":{"invalid_json":"#))
        #expect(first.elapsedMillis == 20_000)
    }

    @Test("the summary table prints, per profile, what each device published")
    func summaryTable() throws {
        var run = try Fixtures.run([("valve", 2), ("air_quality", 1)], durationMillis: 10_000)
        run.runToEnd()
        let table = run.simulation.report().summaryTable()
        let rows = table.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows[0] == ["PROFILE", "DEVICE", "PUBLISHED", "LAST_SEQ", "BIRTHS", "GAPS", "DUPLICATES", "MALFORMED", "REPLAYED"])
        #expect(rows[1] == ["valve", "valve-0001", "5", "4", "1", "0", "0", "0", "0"])
        #expect(rows[2] == ["valve", "valve-0002", "5", "4", "1", "0", "0", "0", "0"])
        #expect(rows[3] == ["valve", "TOTAL", "(2)", "10", "-", "2", "0", "0", "0", "0"])
        #expect(rows[4] == ["air_quality", "air_quality-0001", "2", "1", "1", "0", "0", "0", "0"])
        #expect(rows.count == 6)
    }
}
