from gptme_trio.cli import main

if __name__ == "__main__":
    main()
