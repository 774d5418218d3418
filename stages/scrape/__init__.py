"""Stage scrape: crawl a review site with Scrapy into ``data/raw`` (+ crawl statistics).

``python -m stages.scrape``. With ``scrape.source: demo`` the stage serves its own offline
review site (``demo_site``) on 127.0.0.1 for the duration of the crawl.
"""
