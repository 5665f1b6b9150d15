import sys

from mcp_auth.cli import main

sys.exit(main())
