from metagate.gateway.cli import main

main()
