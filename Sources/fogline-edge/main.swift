print("fogline-edge: not built yet")
