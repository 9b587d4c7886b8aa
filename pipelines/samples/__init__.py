"""Sample articles (fictional, written for this project) that ``claimstream demo`` publishes."""
