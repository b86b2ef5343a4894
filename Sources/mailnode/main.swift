print("mailnode")
