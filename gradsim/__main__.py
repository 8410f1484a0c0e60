from gradsim.console import main

main()
