// fogline-cloud: the aggregator (`serve`) and, later, the terminal dashboard (`dash`).
print("fogline-cloud: not built yet")
