import FoglineSim
import Testing

@Suite("Fault plans")
struct FaultPlanTests {
    @Test("repeatable --fault options combine into one plan")
    func parsesAll() throws {
        let plan = try FaultPlan.parse(["disconnect=0.01", "skew=-3600", "duplicate=0.05", "malformed=0.02", "burst=10:5", "gap=0.1"])
        #expect(plan.disconnectPerSecond == 0.01)
        #expect(plan.skewMillis == -3_600_000)
        #expect(plan.duplicateProbability == 0.05)
        #expect(plan.malformedProbability == 0.02)
        #expect(plan.burst == FaultPlan.Burst(rateMultiplier: 10, durationMillis: 5_000, periodMillis: 15_000))
        #expect(plan.gapProbability == 0.1)
        #expect(try FaultPlan.parse(["burst=2:0.5:10"]).burst == FaultPlan.Burst(rateMultiplier: 2, durationMillis: 500, periodMillis: 10_000))
        #expect(try FaultPlan.parse([]) == .none)
        #expect(FaultPlan.none.description == "none")
        #expect(try FaultPlan.parse(["gap=0.5", "skew=1.5"]).description == "skew=1.5 gap=0.5")
        #expect(plan.description == "disconnect=0.01 skew=-3600 duplicate=0.05 malformed=0.02 burst=10:5:15 gap=0.1")
        #expect(try FaultPlan.parse(plan.description.split(separator: " ").map(String.init)) == plan)
    }

    @Test("a burst is on at the end of each period")
    func burstWindows() {
        let burst = FaultPlan.Burst(rateMultiplier: 10, durationMillis: 5_000, periodMillis: 15_000)
        #expect(!burst.isActive(elapsedMillis: 0))
        #expect(!burst.isActive(elapsedMillis: 9_999))
        #expect(burst.isActive(elapsedMillis: 10_000))
        #expect(burst.isActive(elapsedMillis: 14_999))
        #expect(!burst.isActive(elapsedMillis: 15_000))
        #expect(burst.isActive(elapsedMillis: 25_000))
    }

    @Test(
        "bad options are refused with a sentence that names the option",
        arguments: [
            ("gap", "NAME=VALUE"),
            ("jitter=0.1", "unknown fault \"jitter\""),
            ("gap=1.5", "from 0 to 1"),
            ("gap=-0.1", "from 0 to 1"),
            ("gap=lots", "must be a number"),
            ("disconnect=1", "not including"),
            ("duplicate=nan", "must be a number"),
            ("skew=1e12", "ten years"),
            ("burst=10", "MULTIPLIER:SECONDS"),
            ("burst=1:5", "more than 1"),
            ("burst=10:0", "0.001"),
            ("burst=10:5:5", "longer than the burst"),
            ("burst=10:5:x", "must be a number"),
        ]
    )
    func refusesBadOptions(option: String, words: String) {
        do {
            _ = try FaultPlan.parse([option])
            Issue.record("\(option) should be refused")
        } catch {
            #expect(error.option == option)
            #expect(error.description.hasPrefix("--fault \"\(option)\": "))
            #expect(error.message.contains(words), "\(error)")
        }
    }

    @Test("a fault given twice is refused")
    func refusesRepeats() {
        #expect(throws: FaultPlanError.self) { try FaultPlan.parse(["gap=0.1", "gap=0.2"]) }
    }
}
