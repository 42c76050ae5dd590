import FoglineSim
import Testing

@Suite("Scale")
struct ScaleTests {
    @Test("5,000 devices for 10 s of virtual time: every reading on schedule, timers bounded")
    func fiveThousandDevices() throws {
        let mix = [("thermostat", 2_000), ("power_meter", 1_000), ("valve", 1_000), ("door_sensor", 500), ("air_quality", 500)]
        var run = try Fixtures.run(mix, seed: 77, durationMillis: 10_000, records: false)
        #expect(run.simulation.deviceCount == 5_000)
        var maxTimers = 0
        for second in 1...10 {
            run.run(until: Fixtures.start + Int64(second) * 1_000)
            maxTimers = max(maxTimers, run.simulation.scheduledTimerCount)
        }
        run.runToEnd()
        #expect(run.simulation.isFinished)
        #expect(maxTimers <= 5_000, "one telemetry timer per device, in one heap")

        // Each device's first reading falls within its first interval, so 10 s holds exactly
        // 10 s × rate readings: 10, 10, 5, 20 and 2.
        let expected = ["thermostat": 10, "power_meter": 10, "valve": 5, "door_sensor": 20, "air_quality": 2]
        let report = run.simulation.report()
        for device in report.devices {
            #expect(device.published == expected[device.profile], "\(device.id)")
            #expect(device.births == 1)
        }
        #expect(report.profiles.map(\.totals.published) == [20_000, 10_000, 5_000, 10_000, 1_000])
        #expect(Set(report.devices.map(\.id)).count == 5_000, "ids are unique across profiles")
        #expect(report.devices[1_999].id == "thermostat-2000" && report.devices[2_000].id == "power_meter-0001")
    }
}
