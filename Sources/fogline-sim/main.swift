print("fogline-sim: not built yet")
