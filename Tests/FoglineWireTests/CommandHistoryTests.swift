import FoglineCore
import FoglineTesting
import FoglineWire
import Testing

@Suite("Command history (the replicated `commands` registry field)")
struct CommandHistoryTests {
    static func entry(_ id: String, at created: UInt64, status: String = "pending") -> CommandHistory.Entry {
        CommandHistory.Entry(id: id, name: "open_valve", status: status, createdMilliseconds: created)
    }

    @Test("recording keeps the newest commands by issue time, one entry per id, whatever the order of the records")
    func keepsTheNewest() {
        for seed in PropertySeeds.seeds(default: 200) {
            var random = SeededRandom(seed: seed)
            var history = CommandHistory()
            var latest: [String: CommandHistory.Entry] = [:]
            for _ in 0..<random.int(in: 0...20) {
                let id = "c-\(random.int(in: 0...9))"
                // An id keeps its issue time; its status changes.
                let created = latest[id]?.createdMilliseconds ?? UInt64(random.int(in: 0...1_000))
                let entry = Self.entry(id, at: created, status: random.pick(["pending", "ok", "failed", "timed_out"]))
                history.record(entry)
                latest[id] = entry
            }
            let expected = latest.values.sorted { ($0.createdMilliseconds, $0.id) < ($1.createdMilliseconds, $1.id) }
            #expect(history.entries == Array(expected.suffix(CommandHistory.capacity)), "seed \(seed)")
        }
    }

    @Test("the registry value round-trips, detail included")
    func roundTrip() {
        let history = CommandHistory(entries: [
            Self.entry("c-1", at: 1_763_800_000_000, status: "ok"),
            CommandHistory.Entry(id: "c-2", name: "close \"valve\"", status: "timed_out", createdMilliseconds: 1_763_800_000_500,
                                 detail: "no cmd/ack after 3 attempts"),
        ])
        #expect(CommandHistory(registryValue: history.registryValue) == history)
    }

    @Test("a missing, foreign or partly unreadable value reads as what it holds that is readable")
    func unreadable() {
        #expect(CommandHistory(registryValue: nil).entries.isEmpty)
        #expect(CommandHistory(registryValue: .number(3)).entries.isEmpty)
        #expect(CommandHistory(registryValue: .string("not json")).entries.isEmpty)
        let mixed = #"[{"id":"c-1","name":"x","status":"ok","created":5},{"id":"c-2"},7,{"id":"c-3","name":"y","status":"ok","created":-1}]"#
        #expect(CommandHistory(registryValue: .string(mixed)).entries == [
            CommandHistory.Entry(id: "c-1", name: "x", status: "ok", createdMilliseconds: 5),
        ])
    }
}
