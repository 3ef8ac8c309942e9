import sys

from soundstage.interfaces.cli.app import main

sys.exit(main())
